// Reader for TensorFlow.js model files (R-VIS models; issue 2): a graph
// model's model.json (GraphDef as JSON + weightsManifest) and a bare weight
// manifest (face-api's *-weights_manifest.json), plus the .bin shards they
// name. Weights are decoded to float32 (float32, float16, and uint8/uint16
// affine-quantised `q * scale + min`) or int32.
//
// Errors (Status reasons): model.missing_file, model.corrupt (bad JSON, a
// manifest that does not match the shard sizes, an unknown dtype).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "livegate/status.h"

namespace livegate::vision {

// One decoded weight tensor; exactly one of `f` / `i` is filled.
struct TfjsTensor {
  std::vector<int> shape;    // TF order (NHWC, HWIO, [in, out] ...)
  std::vector<float> f;      // float weights, dequantised
  std::vector<int32_t> i;    // int32 constants (shapes, paddings, axes)
  bool is_int() const { return !i.empty() || f.empty(); }
  size_t size() const { return is_int() ? i.size() : f.size(); }
};
using TfjsWeights = std::map<std::string, TfjsTensor>;

// One GraphDef node; attrs kept as the converter's JSON (strings base64).
struct TfjsNode {
  std::string name;
  std::string op;
  std::vector<std::string> inputs;  // "node" or "node:1"; control deps dropped
  std::map<std::string, std::string> str_attrs;           // padding, data_format
  std::map<std::string, std::vector<int64_t>> int_lists;  // strides, ksize, ...
  std::vector<std::string> fused_ops;                     // _Fused* ops
  std::map<std::string, bool> bool_attrs;                 // transpose_a/b
};

struct TfjsGraph {
  std::vector<TfjsNode> nodes;  // in file order (topological in practice)
  TfjsWeights weights;
};

// Decodes the weightsManifest array (groups of {paths, weights}) against the
// shards in `dir`.
Result<TfjsWeights> DecodeWeightManifest(const nlohmann::json& manifest,
                                         const std::filesystem::path& dir);

// Reads a graph model (model.json style file) and its shards.
Result<TfjsGraph> LoadTfjsGraph(const std::filesystem::path& model_json);

// Reads a bare weight manifest (face-api) and its shards.
Result<TfjsWeights> LoadTfjsWeights(const std::filesystem::path& manifest_json);

// IEEE half -> float (exact).
float HalfToFloat(uint16_t h);

}  // namespace livegate::vision
