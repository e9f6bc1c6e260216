// `livegate eval verify` runner on dlib's johns crops (55 aligned 150x150
// chips of 5 people; Debian libdlib19.1 docs): every figure it reports must
// be consistent with the pairs it built, and the issue-2 target (all 1,485
// pairs decided correctly at the default threshold) must hold with the
// chips fed straight to the descriptor. R-SRV-CMP-1.
#include <cmath>
#include <fstream>
#include <numeric>

#include <gtest/gtest.h>

#include "eval/verify_runner.h"
#include "support/test_data.h"

namespace livegate::eval {
namespace {

namespace fs = std::filesystem;
const fs::path kJohns = "/usr/share/doc/libdlib19.1/examples/johns";

#define REQUIRE_JOHNS()                                                        \
  do {                                                                         \
    if (!fs::exists(kJohns / "John_Simm")) {                                   \
      if (::livegate::testing::RunningInCi()) FAIL() << "missing " << kJohns;  \
      GTEST_SKIP() << "dlib johns crops missing (apt install libdlib19.1)";   \
    }                                                                          \
  } while (0)

void ExpectConsistent(const SourceResult& s, double threshold) {
  // Counts add up.
  EXPECT_EQ(s.genuine_accepted + s.genuine_rejected, s.genuine_scored);
  EXPECT_EQ(s.impostor_accepted + s.impostor_rejected, s.impostor_scored);
  EXPECT_EQ(s.pairs.size(), s.genuine_scored + s.impostor_scored);
  EXPECT_EQ(s.scores.positives.size(), s.genuine_scored);
  EXPECT_EQ(s.scores.negatives.size(), s.impostor_scored);
  std::size_t failed = 0;
  for (const auto& r : s.images) failed += r.acquired ? 0 : 1;
  EXPECT_EQ(failed, s.images_failed);
  EXPECT_DOUBLE_EQ(s.fta_rate, static_cast<double>(failed) / s.images.size());
  // Each pair's decision is its distance against the threshold.
  std::size_t g_acc = 0, i_acc = 0;
  for (const auto& p : s.pairs) {
    EXPECT_EQ(p.accepted, p.distance < threshold);
    EXPECT_EQ(p.genuine, s.images[p.a].identity == s.images[p.b].identity);
    (p.genuine ? g_acc : i_acc) += p.accepted ? 1 : 0;
  }
  EXPECT_EQ(g_acc, s.genuine_accepted);
  EXPECT_EQ(i_acc, s.impostor_accepted);
  ASSERT_TRUE(s.summary.has_value());
  const auto& m = *s.summary;
  EXPECT_EQ(m.genuine, s.genuine_scored);
  EXPECT_EQ(m.impostor, s.impostor_scored);
  EXPECT_EQ(m.at_threshold.false_rejects, s.genuine_rejected);
  EXPECT_EQ(m.at_threshold.false_accepts, s.impostor_accepted);
  EXPECT_LE(m.at_fmr_1pct.far, 0.01);
  EXPECT_LE(m.at_fmr_0_1pct.far, 0.001);
  EXPECT_LE(m.at_fmr_1pct.frr, m.at_fmr_0_1pct.frr);
  EXPECT_GE(m.eer.eer, 0.0);
  EXPECT_LE(m.eer.eer, 0.5);
}

TEST(EvalVerifyJohnsTest, AlignedChipsGive275GenuineAnd1210ImpostorPairsAllCorrect) {
  REQUIRE_JOHNS();
  LG_REQUIRE_MODELS();
  VerifyOptions o;
  o.data_dir = kJohns;
  o.aligned_chips = true;
  o.threshold = livegate::vision::kDlibReferenceThreshold;  // the issue 2 claim is at dlib's 0.6
  o.fmr_targets = {{"medium", 1e-4}, {"loose", 1e-2}};
  o.analyzer.model_dir = livegate::testing::ModelDir();
  auto report = RunVerify(o);
  ASSERT_TRUE(report.ok()) << report.status().reason() << ": " << report.status().message();
  ASSERT_EQ(report->sources.size(), 1u);
  const auto& s = report->sources[0];
  EXPECT_EQ(s.name, "johns");
  EXPECT_EQ(s.identities, 5u);
  EXPECT_EQ(s.images.size(), 55u);
  EXPECT_EQ(s.images_failed, 0u);
  EXPECT_EQ(s.genuine_possible, 275u);
  EXPECT_EQ(s.impostor_possible, 1210u);
  EXPECT_EQ(s.genuine_scored, 275u);
  EXPECT_EQ(s.impostor_scored, 1210u);
  EXPECT_EQ(s.genuine_same_photo_excluded, 0u);
  ExpectConsistent(s, o.threshold);
  // Issue 2 target: every pair decided correctly at the default 0.6
  // (models.md measured genuine max 0.551, impostor min 0.660).
  EXPECT_EQ(s.genuine_rejected, 0u);
  EXPECT_EQ(s.impostor_accepted, 0u);
  EXPECT_EQ(s.summary->eer.eer, 0.0);

  // Operating points (issue 14): 1,210 impostor pairs cannot show 1e-4 (29,956
  // needed at 95 %); the point is then the last one with no false match and
  // its bound is 1 - 0.05^(1/1210). 1e-2 is supported (needs 299 pairs).
  ASSERT_EQ(s.operating_points.size(), 2u);
  const auto& medium = s.operating_points[0];
  EXPECT_FALSE(medium.supported);
  EXPECT_EQ(medium.impostors_needed, 29956u);
  EXPECT_EQ(medium.point.false_accepts, 0u);
  EXPECT_NEAR(medium.fmr_upper_bound, 1 - std::pow(0.05, 1.0 / 1210), 1e-12);
  EXPECT_EQ(medium.point.false_rejects, 0u);  // perfectly separated
  const auto& loose = s.operating_points[1];
  EXPECT_TRUE(loose.supported);
  EXPECT_LE(loose.fmr_upper_bound, 1e-2);
  ASSERT_EQ(report->worst_identities.size(), 2u);
  EXPECT_EQ(report->worst_identities[0].size(), 5u);  // every identity listed
  EXPECT_EQ(report->worst_identities[0][0].fnmr, 0.0);

  // The written reports agree with the run.
  const auto out = livegate::testing::MakeTempDir("eval_verify");
  ASSERT_TRUE(WriteVerifyReport(*report, out).ok());
  std::ifstream pairs(out / "pairs.csv");
  std::string line;
  std::size_t rows = 0;
  while (std::getline(pairs, line)) ++rows;
  EXPECT_EQ(rows, 1 + 1485u);
  auto j = nlohmann::json::parse(std::ifstream(out / "summary.json"));
  EXPECT_EQ(j["sources"][0]["genuine_scored"], 275);
  EXPECT_EQ(j["sources"][0]["impostor_scored"], 1210);
  std::ifstream html(out / "report.html");
  std::string page((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_NE(page.find("<polyline"), std::string::npos);
  EXPECT_NE(page.find("Fairness check"), std::string::npos);
  EXPECT_EQ(j["operating_points"]["pooled"].size(), 2u);
  EXPECT_EQ(j["operating_points"]["pooled"][0]["supported"], false);
  EXPECT_EQ(j["operating_points"]["worst_identities"][0]["identities"].size(), 5u);
  fs::remove_all(out);
}

TEST(EvalVerifyJohnsTest, DetectAndAlignPathIsConsistent) {
  REQUIRE_JOHNS();
  LG_REQUIRE_MODELS();
  VerifyOptions o;
  o.data_dir = kJohns;
  o.analyzer.model_dir = livegate::testing::ModelDir();
  auto report = RunVerify(o);
  ASSERT_TRUE(report.ok()) << report.status().reason() << ": " << report.status().message();
  ASSERT_EQ(report->sources.size(), 1u);
  const auto& s = report->sources[0];
  EXPECT_EQ(s.images.size(), 55u);
  EXPECT_EQ(s.genuine_possible, 275u);
  EXPECT_EQ(s.impostor_possible, 1210u);
  EXPECT_LE(s.genuine_scored, 275u);
  EXPECT_LE(s.impostor_scored, 1210u);
  ExpectConsistent(s, o.threshold);
}

// A small tree built at test time from johns chips: _edge/_multi folders
// and non-image files are skipped, and MANIFEST.tsv same-photo notes remove
// the genuine pair between two renderings of one photo.
TEST(EvalVerifyJohnsTest, TreeRulesAndSamePhotoGroups) {
  REQUIRE_JOHNS();
  LG_REQUIRE_MODELS();
  const auto root = livegate::testing::MakeTempDir("eval_tree");
  const auto src = root / "data" / "src";
  auto copy = [&](const fs::path& from, const fs::path& to) {
    fs::create_directories(to.parent_path());
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  };
  std::vector<fs::path> simm, savage;
  for (const auto& e : fs::directory_iterator(kJohns / "John_Simm")) simm.push_back(e.path());
  for (const auto& e : fs::directory_iterator(kJohns / "John_Savage")) savage.push_back(e.path());
  std::sort(simm.begin(), simm.end());
  std::sort(savage.begin(), savage.end());
  copy(simm[0], src / "simm" / "a.jpg");
  copy(simm[1], src / "simm" / "x-240p.jpg");
  copy(simm[1], src / "simm" / "x-480p.jpg");
  copy(savage[0], src / "savage" / "1.jpg");
  copy(savage[1], src / "savage" / "1_aligned.jpg");
  copy(savage[2], src / "_multi" / "m.jpg");
  copy(savage[2], src / "_edge_cases" / "e.jpg");
  std::ofstream(src / "simm" / "notes.txt") << "not an image\n";
  std::ofstream(root / "data" / "MANIFEST.tsv")
      << "staged_path\trepo\tcommit\toriginal_path\tlicense\tlabel\tnotes\n"
      << "src/simm/x-240p.jpg\tr\tc\tx-240p.jpg\tl\tid\tsame photo at 240p\n"
      << "src/simm/x-480p.jpg\tr\tc\tx-480p.jpg\tl\tid\tsame photo at 480p\n"
      << "src/savage/1.jpg\tr\tc\tdata/test_images/savage/1.jpg\tl\tid\tfull photo\n"
      << "src/savage/1_aligned.jpg\tr\tc\tdata/1_aligned.jpg\tl\tid\t160x160 crop of "
         "test_images/savage/1.jpg (same photo)\n";
  VerifyOptions o;
  o.data_dir = root / "data";
  o.aligned_chips = true;
  o.threads = 1;
  o.analyzer.model_dir = livegate::testing::ModelDir();
  auto report = RunVerify(o);
  ASSERT_TRUE(report.ok()) << report.status().reason() << ": " << report.status().message();
  EXPECT_EQ(report->manifest, root / "data" / "MANIFEST.tsv");
  ASSERT_EQ(report->sources.size(), 1u);
  const auto& s = report->sources[0];
  EXPECT_EQ(s.name, "src");
  EXPECT_EQ(s.identities, 2u);
  EXPECT_EQ(s.images.size(), 5u);
  // simm: 3 images -> 3 pairs, 1 same-photo; savage: 2 images -> 1 pair, same photo.
  EXPECT_EQ(s.genuine_same_photo_excluded, 2u);
  EXPECT_EQ(s.genuine_possible, 2u);
  EXPECT_EQ(s.impostor_possible, 6u);
  EXPECT_EQ(s.genuine_scored, 2u);
  EXPECT_EQ(s.impostor_scored, 6u);
  ExpectConsistent(s, o.threshold);
  fs::remove_all(root);
}

TEST(EvalVerifyJohnsTest, MissingFolderHasASpecificReason) {
  VerifyOptions o;
  o.data_dir = "/nonexistent/livegate/eval";
  EXPECT_EQ(RunVerify(o).status().reason(), "eval.data_dir_missing");
}

}  // namespace
}  // namespace livegate::eval
