// BlazeFace (back, 256x256) from @vladmandic/human's blazeface.json, run on
// cv::dnn (issue 2; face detection under R-CLI-QD-1 quality pre-check, R-ASD-2
// face and camera-angle detection, and every downstream model).
// Input normalisation as human does it: rgb / 127.5 - 1.
#include "vision/dnn_builder.h"
#include "vision/models.h"
#include "vision/tfjs_to_dnn.h"

namespace livegate::vision {
namespace {

// Graph outputs: logits of the 16x16 (2 anchors) and 8x8 (6 anchors) heads,
// then their regressors; 512 + 384 = 896 anchors in that order.
constexpr int kAnchors16 = 512, kAnchors32 = 384, kAnchors = kAnchors16 + kAnchors32, kCoords = 16;

class BlazeFaceDnn final : public BlazeFaceModel {
 public:
  explicit BlazeFaceDnn(DnnRunner runner) : runner_(std::move(runner)) {}

  Result<BlazeFaceOutput> Run(const cv::Mat& rgb256) override {
    LG_ASSIGN_OR_RETURN(cv::Mat blob, RgbToBlob(rgb256, kInputSize, cv::Scalar::all(0), 127.5, -1.0));
    LG_ASSIGN_OR_RETURN(auto outs, runner_.Run(blob));
    BlazeFaceOutput out;
    out.logits.reserve(kAnchors);
    out.logits.insert(out.logits.end(), outs[0].begin(), outs[0].end());
    out.logits.insert(out.logits.end(), outs[1].begin(), outs[1].end());
    out.regressors.create(kAnchors, kCoords, CV_32F);
    std::copy(outs[2].begin(), outs[2].end(), out.regressors.ptr<float>(0));
    std::copy(outs[3].begin(), outs[3].end(), out.regressors.ptr<float>(kAnchors16));
    return out;
  }

 private:
  DnnRunner runner_;
};

}  // namespace

Result<std::unique_ptr<BlazeFaceModel>> BlazeFaceModel::Load(const std::filesystem::path& model_dir) {
  LG_ASSIGN_OR_RETURN(DnnRunner runner,
                      LoadTfjsDnn(model_dir / "blazeface.json", {1, kInputSize, kInputSize, 3},
                                  {"Identity", "Identity_1", "Identity_2", "Identity_3"}));
  const auto& s = runner.output_shapes();
  if (s[0] != std::vector<int>{1, kAnchors16, 1} || s[1] != std::vector<int>{1, kAnchors32, 1} ||
      s[2] != std::vector<int>{1, kAnchors16, kCoords} || s[3] != std::vector<int>{1, kAnchors32, kCoords}) {
    return Status::BadInput("model.corrupt", "blazeface.json: unexpected output shapes");
  }
  return std::unique_ptr<BlazeFaceModel>(new BlazeFaceDnn(std::move(runner)));
}

}  // namespace livegate::vision
