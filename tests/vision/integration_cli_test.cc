// `livegate analyze` and `livegate compare` run as real processes (the built
// binary) on real images: Debian's dlib examples and the shared test data.
// Checks exit codes (apps/00_cli_common/command.h), --json fields and values,
// and the specific reason printed for each kind of bad input (issue 2, face
// analysis CLI; comparison decision R-SRV-CMP-1).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "livegate/default_policy.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_data.h"

extern char** environ;

namespace livegate::vision {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kDlibExamples = "/usr/share/doc/libdlib19.1/examples";

// Exit codes documented in apps/00_cli_common/command.h.
constexpr int kExitOk = 0, kExitRefused = 1, kExitUsage = 2, kExitBadInput = 3, kExitUnavailable = 4;

#define LG_REQUIRE_FILE(p)                                                                          \
  do {                                                                                              \
    if (!fs::exists(p)) GTEST_SKIP() << "missing (install libdlib19.1 docs): " << (p);             \
  } while (0)

struct CliRun {
  int exit_code = -1;
  std::string out, err;
  json Json() const {
    json j = json::parse(out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "stdout is not JSON:\n" << out << "\nstderr:\n" << err;
    return j;
  }
};

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LG_REQUIRE_MODELS();
    tmp_ = testing::MakeTempDir("lg_vision_cli");
  }
  void TearDown() override {
    std::error_code ec;
    if (!tmp_.empty()) fs::remove_all(tmp_, ec);
  }

  // Runs `livegate <args...> --models <model dir>` with stdout and stderr
  // captured to files (no pipe, so a large output cannot block the child).
  CliRun Livegate(std::vector<std::string> args, bool with_models = true) {
    args.insert(args.begin(), LIVEGATE_CLI_BIN);
    if (with_models) {
      args.push_back("--models");
      args.push_back(testing::ModelDir().string());
    }
    const fs::path out = tmp_ / "stdout", err = tmp_ / "stderr";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    CliRun r;
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    EXPECT_EQ(rc, 0) << "cannot start " << argv[0];
    if (rc != 0) return r;
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    // A crash (signal) is a failure in itself, never an exit code.
    EXPECT_TRUE(WIFEXITED(status)) << "livegate died by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0)
                                   << "\nstderr:\n" << Slurp(err);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = Slurp(out);
    r.err = Slurp(err);
    return r;
  }

  fs::path WriteFile(const std::string& name, const std::string& bytes) {
    const fs::path p = tmp_ / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }

  static fs::path Identity(const std::string& rel) { return testing::TestDataDir() / "1_face_identity" / rel; }

  fs::path tmp_;
};

// --- analyze ---------------------------------------------------------------

// dlib's 2008_002470.jpg (500x332): testing.xml labels 6 faces; the detector
// finds 4 of them (two are under its reach), the smallest (38 px wide) below
// the 40 px minimum, so it is flagged tiny and not measured.
TEST_F(CliTest, AnalyzeDlibGroupPhotoJson) {
  const fs::path img = kDlibExamples / "faces/2008_002470.jpg";
  LG_REQUIRE_FILE(img);
  const CliRun r = Livegate({"analyze", "--json", img.string()});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const json j = r.Json();
  EXPECT_EQ(j.at("kind"), "image");
  EXPECT_EQ(j.at("width"), 500);
  EXPECT_EQ(j.at("height"), 332);
  EXPECT_EQ(j.at("file"), img.string());
  const json& faces = j.at("faces");
  ASSERT_EQ(faces.size(), 4u) << r.out;
  int tiny = 0;
  double previous_width = 1e9;
  for (const json& f : faces) {
    const json& box = f.at("box");
    const double w = box.at("width"), h = box.at("height"), x = box.at("x"), y = box.at("y");
    EXPECT_LE(w, previous_width) << "faces come largest first";
    previous_width = w;
    EXPECT_GT(w, 30);
    EXPECT_LT(w, 60);
    EXPECT_GE(x, 0);
    EXPECT_GE(y, 0);
    EXPECT_LE(x + w, 500);
    EXPECT_LE(y + h, 332);
    EXPECT_GE(f.at("detector_score").get<double>(), 0.6);  // AnalyzerOptions::min_detector_score
    EXPECT_EQ(f.at("keypoints").size(), 6u);
    if (f.at("tiny").get<bool>()) {
      ++tiny;
      EXPECT_LT(w, 40);
      EXPECT_FALSE(f.contains("pose")) << "tiny faces are not measured";
      continue;
    }
    EXPECT_GE(f.at("mesh_confidence").get<double>(), 0.9);
    EXPECT_LT(std::abs(f.at("pose").at("yaw_deg").get<double>()), 60);
    // Open eyes, closed mouths in this photo (eye aspect ratio ~0.25-0.35).
    EXPECT_GT(f.at("left_eye_openness").get<double>(), 0.15);
    EXPECT_GT(f.at("right_eye_openness").get<double>(), 0.15);
    EXPECT_LT(f.at("mouth_openness").get<double>(), 0.2);
    EXPECT_FALSE(f.contains("descriptor")) << "only with --descriptor";
    EXPECT_FALSE(f.contains("mesh")) << "only with --mesh";
  }
  EXPECT_EQ(tiny, 1);
}

// Two faces in one photo of the openface set; --descriptor and --mesh add
// the 128-D unit-length descriptor and the 468 points.
TEST_F(CliTest, AnalyzeTwoFacesWithDescriptorAndMesh) {
  LG_REQUIRE_TEST_DATA("1_face_identity/openface/_multi/longoria-cooper.jpg");
  const CliRun r = Livegate({"analyze", "--json", "--descriptor", "--mesh",
                          Identity("openface/_multi/longoria-cooper.jpg").string()});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const json j = r.Json();
  ASSERT_EQ(j.at("faces").size(), 2u) << r.out;
  for (const json& f : j.at("faces")) {
    ASSERT_FALSE(f.at("tiny").get<bool>());
    ASSERT_EQ(f.at("descriptor").size(), 128u);
    double norm2 = 0;
    for (const json& v : f.at("descriptor")) norm2 += v.get<double>() * v.get<double>();
    // dlib's network ends without normalisation; its descriptors are ~unit
    // length but not exactly: only rule out zeros and blow-ups.
    EXPECT_GT(norm2, 0.1);
    EXPECT_LT(norm2, 4.0);
    ASSERT_EQ(f.at("mesh").size(), 468u);
    EXPECT_EQ(f.at("mesh").at(0).size(), 3u);
  }
}

// The text mode names the face count; no face is an OK result, not an error.
TEST_F(CliTest, AnalyzeNoFaceIsAResult) {
  const fs::path img = kDlibExamples / "faces/dogs.jpg";
  LG_REQUIRE_FILE(img);
  const CliRun json_run = Livegate({"analyze", "--json", img.string()});
  ASSERT_EQ(json_run.exit_code, kExitOk) << json_run.err;
  EXPECT_TRUE(json_run.Json().at("faces").empty());
  const CliRun text_run = Livegate({"analyze", img.string()});
  ASSERT_EQ(text_run.exit_code, kExitOk) << text_run.err;
  EXPECT_NE(text_run.out.find(": 0 face(s)"), std::string::npos) << text_run.out;
  EXPECT_NE(text_run.out.find("no face"), std::string::npos) << text_run.out;
}

// A video: every 25th frame of the 30 fps Hamilton clip; a face in most of
// the sampled frames, frame indices and timestamps consistent.
TEST_F(CliTest, AnalyzeVideoEveryNthFrame) {
  LG_REQUIRE_TEST_DATA("2_face_video/face_recognition_short_hamilton_clip.mp4");
  const fs::path video = testing::TestDataDir() / "2_face_video/face_recognition_short_hamilton_clip.mp4";
  const CliRun r = Livegate({"analyze", "--json", "--every", "25", video.string()});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  const json j = r.Json();
  EXPECT_EQ(j.at("kind"), "video");
  EXPECT_EQ(j.at("every"), 25);
  const json& frames = j.at("frames");
  ASSERT_GE(frames.size(), 10u) << r.out;
  int with_face = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].at("index"), static_cast<int>(i) * 25);
    // 25 frames at ~30 fps = ~833 ms apart.
    EXPECT_NEAR(frames[i].at("timestamp_ms").get<double>(), i * 25 * 1000.0 / 29.97, 40.0);
    if (!frames[i].at("faces").empty()) ++with_face;
  }
  EXPECT_GE(with_face, static_cast<int>(frames.size()) * 2 / 3);
}

// --- compare ---------------------------------------------------------------

TEST_F(CliTest, CompareSamePersonIsSame) {
  LG_REQUIRE_TEST_DATA("1_face_identity/face_recognition/barack_obama/obama2.jpg");
  const std::string a = Identity("face_recognition/barack_obama/obama.jpg").string();
  const std::string b = Identity("face_recognition/barack_obama/obama2.jpg").string();
  const CliRun r = Livegate({"compare", "--json", a, b});
  ASSERT_EQ(r.exit_code, kExitOk) << r.out << r.err;
  const json j = r.Json();
  EXPECT_EQ(j.at("a"), a);
  EXPECT_EQ(j.at("b"), b);
  EXPECT_EQ(j.at("faces_in_a"), 1);
  EXPECT_EQ(j.at("faces_in_b"), 1);
  EXPECT_TRUE(j.at("same").get<bool>());
  // The default is the default policy's medium tier (one default everywhere, issue 14).
  EXPECT_DOUBLE_EQ(j.at("threshold").get<double>(), livegate::default_policy::kCompareThreshold);
  EXPECT_DOUBLE_EQ(j.at("threshold").get<double>(), 0.47);
  EXPECT_LT(j.at("distance").get<double>(), 0.5);  // measured 0.350
  EXPECT_GT(j.at("distance").get<double>(), 0.0);
}

TEST_F(CliTest, CompareDifferentPeopleIsDifferent) {
  LG_REQUIRE_TEST_DATA("1_face_identity/face_recognition/joe_biden/biden.jpg");
  const CliRun r = Livegate({"compare", "--json", Identity("face_recognition/barack_obama/obama.jpg").string(),
                          Identity("face_recognition/joe_biden/biden.jpg").string()});
  ASSERT_EQ(r.exit_code, kExitRefused) << r.out << r.err;
  const json j = r.Json();
  EXPECT_FALSE(j.at("same").get<bool>());
  EXPECT_GT(j.at("distance").get<double>(), 0.7);  // measured 0.822
}

// dlib's aligned 150x150 johns crops: two of one John are the same person,
// Johns of two names are not; text mode says so in words.
TEST_F(CliTest, CompareDlibJohns) {
  const fs::path johns = kDlibExamples / "johns";
  LG_REQUIRE_FILE(johns / "John_Salley/000179_02159509.jpg");
  const CliRun same = Livegate({"compare", (johns / "John_Salley/000179_02159509.jpg").string(),
                             (johns / "John_Salley/000183_02159543.jpg").string()});
  EXPECT_EQ(same.exit_code, kExitOk) << same.out << same.err;
  EXPECT_NE(same.out.find("same person"), std::string::npos) << same.out;
  const CliRun different = Livegate({"compare", (johns / "John_Salley/000179_02159509.jpg").string(),
                                  (johns / "John_Simm/000288_00470387.jpg").string()});
  EXPECT_EQ(different.exit_code, kExitRefused) << different.out << different.err;
  EXPECT_NE(different.out.find("different people"), std::string::npos) << different.out;
}

// The threshold is the caller's: the same genuine pair (distance ~0.35) is
// "different" at 0.2, and the JSON reports the threshold used.
TEST_F(CliTest, CompareHonoursThreshold) {
  LG_REQUIRE_TEST_DATA("1_face_identity/face_recognition/barack_obama/obama2.jpg");
  const CliRun r = Livegate({"compare", "--json", "--threshold", "0.2",
                          Identity("face_recognition/barack_obama/obama.jpg").string(),
                          Identity("face_recognition/barack_obama/obama2.jpg").string()});
  ASSERT_EQ(r.exit_code, kExitRefused) << r.out << r.err;
  const json j = r.Json();
  EXPECT_FALSE(j.at("same").get<bool>());
  EXPECT_DOUBLE_EQ(j.at("threshold").get<double>(), 0.2);
}

// Several faces: the largest is compared and the count is reported. In
// obama_and_biden.jpg the largest box (185 px against 179 px) is Biden's:
// the same person as biden.jpg (measured 0.411), not Obama (0.838).
TEST_F(CliTest, CompareMultiFaceUsesLargestAndCountsFaces) {
  LG_REQUIRE_TEST_DATA("1_face_identity/face_recognition/_multi/obama_and_biden.jpg");
  const std::string pair = Identity("face_recognition/_multi/obama_and_biden.jpg").string();
  const CliRun biden = Livegate({"compare", "--json", pair, Identity("face_recognition/joe_biden/biden.jpg").string()});
  ASSERT_EQ(biden.exit_code, kExitOk) << biden.out << biden.err;
  const json j = biden.Json();
  EXPECT_EQ(j.at("faces_in_a"), 3);  // Obama, Biden and a child at the edge
  EXPECT_EQ(j.at("faces_in_b"), 1);
  EXPECT_TRUE(j.at("same").get<bool>());
  const CliRun obama = Livegate({"compare", "--json", pair, Identity("face_recognition/barack_obama/obama.jpg").string()});
  EXPECT_EQ(obama.exit_code, kExitRefused) << obama.out << obama.err;
  EXPECT_FALSE(obama.Json().at("same").get<bool>());
}

// --- bad input: a specific reason on stderr, exit 3, nothing on stdout -------

class CliBadInputTest : public CliTest {
 protected:
  void ExpectBadInput(const CliRun& r, const std::string& reason) {
    EXPECT_EQ(r.exit_code, kExitBadInput) << r.out << r.err;
    EXPECT_NE(r.err.find("[" + reason + "]"), std::string::npos) << "stderr:\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << "no JSON for a failed input:\n" << r.out;
  }
};

TEST_F(CliBadInputTest, TruncatedJpeg) {
  LG_REQUIRE_TEST_DATA("1_face_identity/face_recognition/barack_obama/obama.jpg");
  const std::string bytes = Slurp(Identity("face_recognition/barack_obama/obama.jpg"));
  ASSERT_GT(bytes.size(), 30000u);
  const fs::path cut = WriteFile("cut.jpg", bytes.substr(0, 3000));
  ExpectBadInput(Livegate({"analyze", "--json", cut.string()}), "image.truncated");
  ExpectBadInput(Livegate({"compare", "--json", Identity("face_recognition/barack_obama/obama.jpg").string(),
                           cut.string()}),
                 "image.truncated");
}

TEST_F(CliBadInputTest, TruncatedPng) {
  LG_REQUIRE_TEST_DATA("1_face_identity/face_recognition/alex_lacamoire/alex-lacamoire.png");
  const std::string bytes = Slurp(Identity("face_recognition/alex_lacamoire/alex-lacamoire.png"));
  ASSERT_GT(bytes.size(), 100000u);
  const fs::path cut = WriteFile("cut.png", bytes.substr(0, bytes.size() / 2));
  ExpectBadInput(Livegate({"analyze", "--json", cut.string()}), "image.truncated");
}

// A whole PNG (signature, size, end marker) whose compressed pixels were
// overwritten: the decoder's failure is reported, not a crash or a grey image.
TEST_F(CliBadInputTest, CorruptPng) {
  LG_REQUIRE_TEST_DATA("1_face_identity/face_recognition/alex_lacamoire/alex-lacamoire.png");
  std::string bytes = Slurp(Identity("face_recognition/alex_lacamoire/alex-lacamoire.png"));
  bytes.replace(bytes.size() / 2, 64, std::string(64, '\0'));
  const fs::path bad = WriteFile("zeroed.png", bytes);
  ExpectBadInput(Livegate({"analyze", "--json", bad.string()}), "image.corrupt");
}

TEST_F(CliBadInputTest, EmptyFile) {
  const fs::path empty = WriteFile("empty.jpg", "");
  ExpectBadInput(Livegate({"analyze", "--json", empty.string()}), "image.empty");
}

// Text is neither an image nor a video FFmpeg can decode.
TEST_F(CliBadInputTest, NotAnImage) {
  const fs::path text = WriteFile("notes.jpg", "hello, this is not an image\n");
  ExpectBadInput(Livegate({"analyze", "--json", text.string()}), "video.cannot_decode");
  // compare takes stills only.
  ExpectBadInput(Livegate({"compare", text.string(), text.string()}), "image.unknown_format");
}

TEST_F(CliBadInputTest, MissingFile) {
  ExpectBadInput(Livegate({"analyze", "--json", (tmp_ / "no_such.jpg").string()}), "image.unreadable_file");
}

// The pixel limit refuses from the header, before decoding.
TEST_F(CliBadInputTest, OverPixelLimit) {
  LG_REQUIRE_TEST_DATA("1_face_identity/face_recognition/barack_obama/obama.jpg");
  const std::string img = Identity("face_recognition/barack_obama/obama.jpg").string();  // 910x1137
  ExpectBadInput(Livegate({"analyze", "--json", "--max-pixels", "100000", img}), "image.too_many_pixels");
  ExpectBadInput(Livegate({"compare", "--max-pixels", "100000", img, img}), "image.too_many_pixels");
  // Just above the image's own size it is accepted.
  EXPECT_EQ(Livegate({"analyze", "--json", "--max-pixels", "1034670", img}).exit_code, kExitOk);
}

// compare needs a face on each side.
TEST_F(CliBadInputTest, CompareWithoutAFace) {
  const fs::path dogs = kDlibExamples / "faces/dogs.jpg";
  LG_REQUIRE_FILE(dogs);
  LG_REQUIRE_TEST_DATA("1_face_identity/face_recognition/barack_obama/obama.jpg");
  ExpectBadInput(
      Livegate({"compare", "--json", dogs.string(), Identity("face_recognition/barack_obama/obama.jpg").string()}),
      "face.none");
}

TEST_F(CliBadInputTest, VideoOverFrameLimit) {
  LG_REQUIRE_TEST_DATA("2_face_video/face_recognition_short_hamilton_clip.mp4");
  const fs::path video = testing::TestDataDir() / "2_face_video/face_recognition_short_hamilton_clip.mp4";
  ExpectBadInput(Livegate({"analyze", "--json", "--max-frames", "10", video.string()}), "video.too_many_frames");
}

// --- usage and environment ---------------------------------------------------

TEST_F(CliTest, UsageErrors) {
  EXPECT_EQ(Livegate({"analyze"}).exit_code, kExitUsage);
  EXPECT_EQ(Livegate({"compare", "only_one.jpg"}).exit_code, kExitUsage);
  const CliRun r = Livegate({"compare", "--threshold", "9", "a.jpg", "b.jpg"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("--threshold"), std::string::npos) << r.err;
}

// --detector pins the BlazeFace model; each face says which one found it.
// A johns crop (one large face): the front model. A group photo whose faces
// are narrower than 0.24 of the image: the back model (front_then_back), or
// the front model when pinned.
TEST_F(CliTest, AnalyzeDetectorChoice) {
  const fs::path crop = kDlibExamples / "johns/John_Salley/000183_02159543.jpg";
  const fs::path group = kDlibExamples / "faces/2008_002506.jpg";
  LG_REQUIRE_FILE(crop);
  LG_REQUIRE_FILE(group);
  auto detectors = [&](std::vector<std::string> args) {
    args.insert(args.begin(), std::initializer_list<std::string>{"analyze", "--json"});
    const CliRun r = Livegate(args);
    EXPECT_EQ(r.exit_code, kExitOk) << r.err;
    std::vector<std::string> by;
    if (r.exit_code == kExitOk) {
      const json j = r.Json();  // kept alive for the loop (not a temporary's member)
      for (const json& f : j.at("faces")) by.push_back(f.at("detector").get<std::string>());
    }
    return by;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(detectors({crop.string()}), V{"front"});
  EXPECT_EQ(detectors({"--detector", "back_only", crop.string()}), V{"back"});
  EXPECT_EQ(detectors({group.string()}), (V{"back", "back", "back"}));
  EXPECT_EQ(detectors({"--detector", "front_only", group.string()}), (V{"front", "front", "front"}));
  const CliRun bad = Livegate({"analyze", "--detector", "front", crop.string()});
  EXPECT_EQ(bad.exit_code, kExitUsage);
  EXPECT_NE(bad.err.find("--detector"), std::string::npos) << bad.err;
}

// Missing model weights are "unavailable" (4), not bad input.
TEST_F(CliTest, MissingModelsAreUnavailable) {
  const fs::path dogs = kDlibExamples / "faces/dogs.jpg";
  LG_REQUIRE_FILE(dogs);
  const CliRun r = Livegate({"analyze", dogs.string(), "--models", (tmp_ / "no_models").string()},
                         /*with_models=*/false);
  EXPECT_EQ(r.exit_code, kExitUnavailable) << r.err;
  EXPECT_NE(r.err.find("[model.missing_file]"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace livegate::vision
