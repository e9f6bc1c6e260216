// TensorFlow.js model reader (issue 2, model loading). See tfjs_model.h.
#include "vision/tfjs_model.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace livegate::vision {
namespace {

using nlohmann::json;

Status Corrupt(const std::filesystem::path& file, const std::string& what) {
  return Status::BadInput("model.corrupt", file.string() + ": " + what);
}

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::NotFound("model.missing_file", "model file not found: " + path.string());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("model.missing_file", "cannot open model file: " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<json> ReadJson(const std::filesystem::path& path) {
  LG_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Corrupt(path, "not valid JSON");
  return j;
}

// Base64 (the converter stores attr strings base64-encoded).
std::string DecodeBase64(const std::string& in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (unsigned char c : in) {
    const char* p = std::strchr(kAlphabet, c);
    if (c == '=' || p == nullptr || c == 0) break;
    val = (val << 6) + static_cast<int>(p - kAlphabet);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

int64_t ToInt(const json& v) {
  if (v.is_string()) return std::stoll(v.get<std::string>());
  return v.get<int64_t>();
}

}  // namespace

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3FFu;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

Result<TfjsWeights> DecodeWeightManifest(const json& manifest, const std::filesystem::path& dir) {
  const auto manifest_file = dir / "(weightsManifest)";
  if (!manifest.is_array()) return Corrupt(manifest_file, "weightsManifest is not an array");
  TfjsWeights out;
  try {
    for (const auto& group : manifest) {
      // Shards of a group are one concatenated buffer.
      std::string buffer;
      for (const auto& p : group.at("paths")) {
        const std::string rel = p.get<std::string>();
        if (rel.find("..") != std::string::npos || (!rel.empty() && rel[0] == '/')) {
          return Corrupt(manifest_file, "shard path escapes the model folder: " + rel);
        }
        LG_ASSIGN_OR_RETURN(std::string shard, ReadFile(dir / rel));
        buffer += shard;
      }
      size_t offset = 0;
      for (const auto& w : group.at("weights")) {
        TfjsTensor t;
        const std::string name = w.at("name").get<std::string>();
        size_t count = 1;
        for (const auto& d : w.at("shape")) {
          const int64_t v = d.get<int64_t>();
          if (v < 0 || v > (1 << 28)) return Corrupt(manifest_file, "bad shape for " + name);
          t.shape.push_back(static_cast<int>(v));
          count *= static_cast<size_t>(v);
          if (count > (size_t{1} << 28)) return Corrupt(manifest_file, "tensor too large: " + name);
        }
        const std::string dtype = w.at("dtype").get<std::string>();
        std::string qtype;
        double scale = 1, min = 0;
        if (w.contains("quantization")) {
          const auto& q = w.at("quantization");
          qtype = q.at("dtype").get<std::string>();
          if (qtype != "float16") {
            scale = q.at("scale").get<double>();
            min = q.at("min").get<double>();
          }
        }
        size_t elem_bytes = 4;
        if (qtype == "uint8") elem_bytes = 1;
        else if (qtype == "uint16" || qtype == "float16") elem_bytes = 2;
        else if (!qtype.empty()) return Corrupt(manifest_file, "unknown quantisation dtype " + qtype);
        if (dtype != "float32" && dtype != "int32") {
          return Corrupt(manifest_file, "unsupported weight dtype " + dtype + " for " + name);
        }
        const size_t bytes = count * elem_bytes;
        if (offset + bytes > buffer.size()) {
          return Corrupt(manifest_file, "weight shards are shorter than the manifest (truncated .bin?) at " + name);
        }
        const auto* src = reinterpret_cast<const unsigned char*>(buffer.data() + offset);
        if (dtype == "int32") {
          if (!qtype.empty()) return Corrupt(manifest_file, "quantised int32 weight " + name);
          t.i.resize(count);
          if (bytes > 0) std::memcpy(t.i.data(), src, bytes);
        } else {
          t.f.resize(count);
          if (qtype.empty()) {
            if (bytes > 0) std::memcpy(t.f.data(), src, bytes);
          } else if (qtype == "float16") {
            for (size_t k = 0; k < count; ++k) {
              uint16_t h;
              std::memcpy(&h, src + 2 * k, 2);
              t.f[k] = HalfToFloat(h);
            }
          } else if (qtype == "uint8") {
            // tfjs dequantises in double and stores float32; do the same.
            for (size_t k = 0; k < count; ++k) t.f[k] = static_cast<float>(src[k] * scale + min);
          } else {  // uint16
            for (size_t k = 0; k < count; ++k) {
              uint16_t q;
              std::memcpy(&q, src + 2 * k, 2);
              t.f[k] = static_cast<float>(q * scale + min);
            }
          }
        }
        offset += bytes;
        out[name] = std::move(t);
      }
      if (offset != buffer.size()) {
        return Corrupt(manifest_file, "weight shards are longer than the manifest says");
      }
    }
  } catch (const json::exception& e) {
    return Corrupt(manifest_file, std::string("malformed weight manifest: ") + e.what());
  }
  return out;
}

Result<TfjsWeights> LoadTfjsWeights(const std::filesystem::path& manifest_json) {
  LG_ASSIGN_OR_RETURN(json j, ReadJson(manifest_json));
  return DecodeWeightManifest(j, manifest_json.parent_path());
}

Result<TfjsGraph> LoadTfjsGraph(const std::filesystem::path& model_json) {
  LG_ASSIGN_OR_RETURN(json j, ReadJson(model_json));
  TfjsGraph graph;
  try {
    if (!j.is_object() || !j.contains("modelTopology") || !j.contains("weightsManifest")) {
      return Corrupt(model_json, "not a tfjs graph model (no modelTopology/weightsManifest)");
    }
    for (const auto& n : j.at("modelTopology").at("node")) {
      TfjsNode node;
      node.name = n.at("name").get<std::string>();
      node.op = n.at("op").get<std::string>();
      if (n.contains("input")) {
        for (const auto& in : n.at("input")) {
          std::string s = in.get<std::string>();
          if (!s.empty() && s[0] == '^') continue;  // control dependency
          node.inputs.push_back(std::move(s));
        }
      }
      if (n.contains("attr")) {
        for (const auto& [key, val] : n.at("attr").items()) {
          if (val.contains("s")) {
            node.str_attrs[key] = DecodeBase64(val.at("s").get<std::string>());
          } else if (val.contains("b")) {
            node.bool_attrs[key] = val.at("b").get<bool>();
          } else if (val.contains("i")) {
            node.int_lists[key] = {ToInt(val.at("i"))};
          } else if (val.contains("list")) {
            const auto& l = val.at("list");
            if (l.contains("i")) {
              std::vector<int64_t> v;
              for (const auto& x : l.at("i")) v.push_back(ToInt(x));
              node.int_lists[key] = std::move(v);
            } else if (l.contains("s") && key == "fused_ops") {
              for (const auto& x : l.at("s")) node.fused_ops.push_back(DecodeBase64(x.get<std::string>()));
            }
          }
        }
      }
      graph.nodes.push_back(std::move(node));
    }
  } catch (const std::exception& e) {
    return Corrupt(model_json, std::string("malformed graph: ") + e.what());
  }
  LG_ASSIGN_OR_RETURN(graph.weights,
                      DecodeWeightManifest(j.at("weightsManifest"), model_json.parent_path()));
  return graph;
}

}  // namespace livegate::vision
