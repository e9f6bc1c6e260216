// Model loading (issue 2): weight decoding (float16, uint8/uint16 affine
// quantisation) and one test per bad-model case, each asserting the specific
// Status reason: missing file, truncated or oversized .bin, corrupt JSON,
// unsupported op.
#include <pthread.h>

#include <fstream>
#include <functional>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_data.h"
#include "vision/face_analyzer.h"
#include "vision/models.h"
#include "vision/tfjs_model.h"

namespace livegate::vision {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void WriteFile(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class ModelLoadingTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("lg-model-loading"); }
  void TearDown() override { fs::remove_all(dir_); }
  // Copies model files from the real model folder into the temp folder.
  void CopyModel(std::initializer_list<const char*> files) {
    for (const char* f : files) fs::copy_file(testing::ModelDir() / f, dir_ / f);
  }
  fs::path dir_;
};

TEST(HalfToFloatTest, DecodesNormalSubnormalAndSpecialValues) {
  EXPECT_EQ(HalfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xC000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
  EXPECT_EQ(HalfToFloat(0x0001), 5.9604644775390625e-8f);  // smallest subnormal
  EXPECT_EQ(HalfToFloat(0x7BFF), 65504.0f);               // largest finite
  EXPECT_TRUE(std::isinf(HalfToFloat(0x7C00)));
  EXPECT_EQ(HalfToFloat(0x8000), -0.0f);
}

TEST_F(ModelLoadingTest, DecodesQuantisedAndHalfWeights) {
  // uint8 [3]: q*0.5 - 1; uint16 [2]: q*0.25 + 2; float16 [2]; int32 [2].
  std::string bin;
  for (uint8_t q : {0, 1, 10}) bin.push_back(static_cast<char>(q));
  for (uint16_t q : {uint16_t{4}, uint16_t{1000}}) bin.append(reinterpret_cast<const char*>(&q), 2);
  for (uint16_t h : {uint16_t{0x3C00}, uint16_t{0xC000}}) bin.append(reinterpret_cast<const char*>(&h), 2);
  for (int32_t v : {7, -3}) bin.append(reinterpret_cast<const char*>(&v), 4);
  WriteFile(dir_ / "w.bin", bin);
  json manifest = json::array({{{"paths", {"w.bin"}},
                                {"weights",
                                 {{{"name", "u8"}, {"shape", {3}}, {"dtype", "float32"},
                                   {"quantization", {{"dtype", "uint8"}, {"scale", 0.5}, {"min", -1.0}}}},
                                  {{"name", "u16"}, {"shape", {2}}, {"dtype", "float32"},
                                   {"quantization", {{"dtype", "uint16"}, {"scale", 0.25}, {"min", 2.0}}}},
                                  {{"name", "f16"}, {"shape", {1, 2}}, {"dtype", "float32"},
                                   {"quantization", {{"dtype", "float16"}}}},
                                  {{"name", "i32"}, {"shape", {2}}, {"dtype", "int32"}}}}}});
  WriteFile(dir_ / "m.json", manifest.dump());
  auto w = LoadTfjsWeights(dir_ / "m.json");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->at("u8").f, (std::vector<float>{-1.0f, -0.5f, 4.0f}));
  EXPECT_EQ(w->at("u16").f, (std::vector<float>{3.0f, 252.0f}));
  EXPECT_EQ(w->at("f16").f, (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(w->at("f16").shape, (std::vector<int>{1, 2}));
  EXPECT_EQ(w->at("i32").i, (std::vector<int32_t>{7, -3}));
}

TEST_F(ModelLoadingTest, MissingModelJsonIsMissingFile) {
  auto m = BlazeFaceModel::Load(dir_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "model.missing_file");
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
}

TEST_F(ModelLoadingTest, MissingWeightShardIsMissingFile) {
  LG_REQUIRE_MODELS();
  CopyModel({"facemesh.json"});
  auto m = FaceMeshModel::Load(dir_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "model.missing_file");
}

TEST_F(ModelLoadingTest, MissingDescriptorManifestIsMissingFile) {
  auto m = DescriptorModel::Load(dir_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "model.missing_file");
}

TEST_F(ModelLoadingTest, TruncatedBinIsCorrupt) {
  LG_REQUIRE_MODELS();
  CopyModel({"blazeface.json"});
  const std::string bin = ReadFile(testing::ModelDir() / "blazeface.bin");
  WriteFile(dir_ / "blazeface.bin", bin.substr(0, bin.size() / 2));
  auto m = BlazeFaceModel::Load(dir_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "model.corrupt");
  EXPECT_NE(m.status().message().find("truncated"), std::string::npos) << m.status().message();
}

TEST_F(ModelLoadingTest, TruncatedDescriptorBinIsCorrupt) {
  LG_REQUIRE_MODELS();
  CopyModel({"face_recognition_model-weights_manifest.json"});
  const std::string bin = ReadFile(testing::ModelDir() / "face_recognition_model.bin");
  WriteFile(dir_ / "face_recognition_model.bin", bin.substr(0, bin.size() - 1));
  auto m = DescriptorModel::Load(dir_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "model.corrupt");
}

TEST_F(ModelLoadingTest, OversizedBinIsCorrupt) {
  LG_REQUIRE_MODELS();
  CopyModel({"liveness.json"});
  WriteFile(dir_ / "liveness.bin", ReadFile(testing::ModelDir() / "liveness.bin") + "extra");
  auto m = LivenessModel::Load(dir_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "model.corrupt");
}

TEST_F(ModelLoadingTest, CorruptJsonIsCorrupt) {
  LG_REQUIRE_MODELS();
  CopyModel({"iris.bin"});
  WriteFile(dir_ / "iris.json", "{\"modelTopology\": {\"node\": [");
  auto m = IrisModel::Load(dir_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "model.corrupt");
}

TEST_F(ModelLoadingTest, JsonOfTheWrongShapeIsCorrupt) {
  LG_REQUIRE_MODELS();
  CopyModel({"antispoof.bin"});
  WriteFile(dir_ / "antispoof.json", R"({"modelTopology": {"node": 5}, "weightsManifest": []})");
  auto m = AntispoofModel::Load(dir_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "model.corrupt");
}

TEST_F(ModelLoadingTest, UnsupportedOpIsReported) {
  LG_REQUIRE_MODELS();
  CopyModel({"blazeface.bin"});
  json j = json::parse(ReadFile(testing::ModelDir() / "blazeface.json"));
  bool replaced = false;
  for (auto& node : j["modelTopology"]["node"]) {
    if (node["op"] == "Relu") {
      node["op"] = "Selu";  // a real TF op we do not translate
      replaced = true;
      break;
    }
  }
  ASSERT_TRUE(replaced);
  WriteFile(dir_ / "blazeface.json", j.dump());
  auto m = BlazeFaceModel::Load(dir_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "model.unsupported_op");
  EXPECT_EQ(m.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(m.status().message().find("Selu"), std::string::npos) << m.status().message();
}

// Regressions from a mutation run over the model JSON (never a crash).
TEST_F(ModelLoadingTest, ZeroStrideIsCorruptNotADivisionByZero) {
  LG_REQUIRE_MODELS();
  CopyModel({"iris.bin"});
  json j = json::parse(ReadFile(testing::ModelDir() / "iris.json"));
  bool changed = false;
  for (auto& node : j["modelTopology"]["node"]) {
    if (node["op"] == "MaxPool") {
      node["attr"]["strides"]["list"]["i"] = json::array({"1", "0", "2", "1"});
      changed = true;
      break;
    }
  }
  ASSERT_TRUE(changed);
  WriteFile(dir_ / "iris.json", j.dump());
  auto m = IrisModel::Load(dir_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "model.corrupt");
}

TEST_F(ModelLoadingTest, CyclicGraphIsCorruptNotAStackOverflow) {
  LG_REQUIRE_MODELS();
  CopyModel({"liveness.bin"});
  json j = json::parse(ReadFile(testing::ModelDir() / "liveness.json"));
  // Feed the first MaxPool from the output Identity: a cycle.
  bool changed = false;
  for (auto& node : j["modelTopology"]["node"]) {
    if (node["op"] == "MaxPool") {
      node["input"][0] = "Identity";
      changed = true;
      break;
    }
  }
  ASSERT_TRUE(changed);
  WriteFile(dir_ / "liveness.json", j.dump());
  auto m = LivenessModel::Load(dir_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "model.corrupt");
  EXPECT_NE(m.status().message().find("cycle"), std::string::npos) << m.status().message();
}

// A valid graph far deeper than the human models (5,000 Identity nodes in a
// chain) loads: graph resolution is iterative, its memory grows on the heap,
// not the thread's stack (and no arbitrary depth cap refuses it).
TEST_F(ModelLoadingTest, VeryDeepGraphLoads) {
  LG_REQUIRE_MODELS();
  CopyModel({"liveness.bin"});
  json j = json::parse(ReadFile(testing::ModelDir() / "liveness.json"));
  json& nodes = j["modelTopology"]["node"];
  json* pool = nullptr;
  for (auto& node : nodes) {
    if (node["op"] == "MaxPool") {
      pool = &node;
      break;
    }
  }
  ASSERT_NE(pool, nullptr);
  std::string previous = (*pool)["input"][0];
  json chain = json::array();
  for (int i = 0; i < 5000; ++i) {
    const std::string name = "deep_chain_" + std::to_string(i);
    chain.push_back({{"name", name}, {"op", "Identity"}, {"input", {previous}}});
    previous = name;
  }
  (*pool)["input"][0] = previous;
  for (auto& c : chain) nodes.push_back(c);
  WriteFile(dir_ / "liveness.json", j.dump());
  auto m = LivenessModel::Load(dir_);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
}

// The front BlazeFace (ONNX): each bad file gets its own reason, never a
// crash inside cv::dnn's importer.
TEST_F(ModelLoadingTest, MissingFrontModelIsMissingFile) {
  auto m = BlazeFaceFrontModel::Load(dir_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "model.missing_file");
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_NE(m.status().message().find("scripts/setup"), std::string::npos) << m.status().message();
}

TEST_F(ModelLoadingTest, EmptyFrontModelIsCorrupt) {
  WriteFile(dir_ / BlazeFaceFrontModel::kFileName, "");
  auto m = BlazeFaceFrontModel::Load(dir_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "model.corrupt");
}

TEST_F(ModelLoadingTest, NotOnnxFrontModelIsCorrupt) {
  WriteFile(dir_ / BlazeFaceFrontModel::kFileName, "{\"this is\": \"json, not ONNX\"}");
  auto m = BlazeFaceFrontModel::Load(dir_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "model.corrupt");
}

TEST_F(ModelLoadingTest, TruncatedFrontModelIsCorrupt) {
  LG_REQUIRE_MODELS();
  const std::string onnx = ReadFile(testing::ModelDir() / BlazeFaceFrontModel::kFileName);
  ASSERT_GT(onnx.size(), 400000u);
  WriteFile(dir_ / BlazeFaceFrontModel::kFileName, onnx.substr(0, onnx.size() / 2));
  auto m = BlazeFaceFrontModel::Load(dir_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "model.corrupt");
}

// A valid ONNX network that lacks one of the four outputs (renamed in the
// protobuf, same length): cv::dnn would load it, but it is not the pinned
// file, so its SHA-256 refuses it before parsing.
TEST_F(ModelLoadingTest, FrontModelWithoutItsOutputsIsCorrupt) {
  LG_REQUIRE_MODELS();
  std::string onnx = ReadFile(testing::ModelDir() / BlazeFaceFrontModel::kFileName);
  size_t renamed = 0;
  for (size_t at = onnx.find("Identity_3:0"); at != std::string::npos; at = onnx.find("Identity_3:0", at + 1)) {
    onnx[at + 9] = '9';
    ++renamed;
  }
  ASSERT_EQ(renamed, 2u);  // the node's output and the graph's output
  WriteFile(dir_ / BlazeFaceFrontModel::kFileName, onnx);
  auto m = BlazeFaceFrontModel::Load(dir_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().reason(), "model.corrupt");
  EXPECT_NE(m.status().message().find("SHA-256"), std::string::npos) << m.status().message();
}

// Regression: OpenCV 4.6's readNetFromONNX segfaulted (null dereference) on
// this mutation of the real file (8 random bytes overwritten, found by a
// scratch run over 300 mutations; mutation 288 of seed 1234). The checksum
// refuses it before OpenCV sees it.
TEST_F(ModelLoadingTest, FrontModelMutationThatCrashedOpenCvIsCorrupt) {
  LG_REQUIRE_MODELS();
  std::string onnx = ReadFile(testing::ModelDir() / BlazeFaceFrontModel::kFileName);
  ASSERT_EQ(onnx.size(), 442005u);
  std::mt19937 rng(1234);
  std::string m;
  for (int i = 0; i <= 288; ++i) {  // replays the scratch run's generator
    m = onnx;
    const int kind = static_cast<int>(rng() % 3);
    if (kind == 0) {
      for (int k = 0; k < 1 + static_cast<int>(rng() % 8); ++k) m[rng() % m.size()] = static_cast<char>(rng());
    } else if (kind == 1) {
      m.resize(rng() % m.size());
    } else {
      const size_t a = rng() % m.size();
      m.erase(a, 1 + rng() % 64);
    }
  }
  ASSERT_EQ(m.size(), onnx.size());
  ASSERT_NE(m, onnx);
  WriteFile(dir_ / BlazeFaceFrontModel::kFileName, m);
  auto loaded = BlazeFaceFrontModel::Load(dir_);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().reason(), "model.corrupt");
}

TEST_F(ModelLoadingTest, FrontModelRefusesAWrongSizedInput) {
  LG_REQUIRE_MODELS();
  auto m = BlazeFaceFrontModel::Load(testing::ModelDir());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)->Run(cv::Mat(256, 256, CV_8UC3, cv::Scalar::all(0))).status().reason(), "model.bad_input");
  EXPECT_EQ((*m)->Run(cv::Mat(128, 128, CV_8UC1, cv::Scalar::all(0))).status().reason(), "model.bad_input");
}

// The analyzer's choice of detector decides which files it needs: without
// the front model a front_then_back analyzer is a clear error at Create (a
// security product does not silently run another detector); back_only
// still works.
TEST_F(ModelLoadingTest, AnalyzerWithoutFrontModelFailsUnlessBackOnly) {
  LG_REQUIRE_MODELS();
  CopyModel({"blazeface.json", "blazeface.bin"});
  AnalyzerOptions o;
  o.model_dir = dir_;
  o.compute_mesh = false;
  o.compute_descriptor = false;
  auto a = FaceAnalyzer::Create(o);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().reason(), "model.missing_file");
  o.detector = DetectorChoice::kFrontOnly;
  EXPECT_EQ(FaceAnalyzer::Create(o).status().reason(), "model.missing_file");
  o.detector = DetectorChoice::kBackOnly;
  EXPECT_TRUE(FaceAnalyzer::Create(o).ok());
  // front_only needs no back model.
  CopyModel({BlazeFaceFrontModel::kFileName});
  fs::remove(dir_ / "blazeface.json");
  o.detector = DetectorChoice::kFrontOnly;
  EXPECT_TRUE(FaceAnalyzer::Create(o).ok());
  o.detector = DetectorChoice::kFrontThenBack;
  EXPECT_EQ(FaceAnalyzer::Create(o).status().reason(), "model.missing_file");
  o.front_min_face_fraction = 1.5f;
  EXPECT_EQ(FaceAnalyzer::Create(o).status().reason(), "analyzer.bad_option");
}

TEST_F(ModelLoadingTest, ShardPathOutsideTheModelFolderIsCorrupt) {
  json manifest = json::array({{{"paths", {"../../etc/passwd"}}, {"weights", json::array()}}});
  WriteFile(dir_ / "m.json", manifest.dump());
  auto w = LoadTfjsWeights(dir_ / "m.json");
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().reason(), "model.corrupt");
}

TEST(ModelLoadingRealTest, AllSevenModelsLoad) {
  LG_REQUIRE_MODELS();
  const fs::path d = testing::ModelDir();
  EXPECT_TRUE(BlazeFaceModel::Load(d).ok());
  EXPECT_TRUE(BlazeFaceFrontModel::Load(d).ok());
  EXPECT_TRUE(FaceMeshModel::Load(d).ok());
  EXPECT_TRUE(IrisModel::Load(d).ok());
  EXPECT_TRUE(DescriptorModel::Load(d).ok());
  EXPECT_TRUE(AntispoofModel::Load(d).ok());
  EXPECT_TRUE(LivenessModel::Load(d).ok());
}

// Runs `f` on a new thread with a `stack_bytes` stack and waits for it.
void RunOnSmallStack(size_t stack_bytes, std::function<void()> f) {
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, stack_bytes), 0);
  pthread_t thread;
  auto trampoline = [](void* p) -> void* {
    (*static_cast<std::function<void()>*>(p))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, trampoline, &f), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

// Loading must not need a big stack: a server or client may load models on
// a pool thread. The recursive graph resolution it replaces used > 512 KiB
// under ASan for BlazeFace and crashed (stack overflow in BuildDnnFromTfjs).
TEST(ModelLoadingRealTest, AllSevenModelsLoadOnA256KiBThreadStack) {
  LG_REQUIRE_MODELS();
  const fs::path d = testing::ModelDir();
  bool all_ok = false;
  RunOnSmallStack(256 * 1024, [&] {
    all_ok = BlazeFaceModel::Load(d).ok() && BlazeFaceFrontModel::Load(d).ok() && FaceMeshModel::Load(d).ok() && IrisModel::Load(d).ok() &&
             DescriptorModel::Load(d).ok() && AntispoofModel::Load(d).ok() && LivenessModel::Load(d).ok();
  });
  EXPECT_TRUE(all_ok);
}

}  // namespace
}  // namespace livegate::vision
