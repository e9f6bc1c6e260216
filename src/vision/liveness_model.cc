// human's passive `liveness` model (32x32 -> softmax over 2; upstream:
// "obvious recording artifacts", R-ASD-4), run on cv::dnn (issue 2; X.1279 client
// anti-spoofing detection, a weak signal only, see
// /work/shared/notes/models.md). Input as human: the face crop / 255.
#include "vision/dnn_builder.h"
#include "vision/models.h"
#include "vision/tfjs_to_dnn.h"

namespace livegate::vision {
namespace {

class LivenessDnn final : public LivenessModel {
 public:
  explicit LivenessDnn(DnnRunner runner) : runner_(std::move(runner)) {}
  Result<float> Run(const cv::Mat& rgb32) override {
    LG_ASSIGN_OR_RETURN(cv::Mat blob, RgbToBlob(rgb32, kInputSize, cv::Scalar::all(0), 255.0));
    LG_ASSIGN_OR_RETURN(auto outs, runner_.Run(blob));
    // human reports the first softmax output as the "live" score.
    return outs[0][0];
  }

 private:
  DnnRunner runner_;
};

}  // namespace

Result<std::unique_ptr<LivenessModel>> LivenessModel::Load(const std::filesystem::path& model_dir) {
  LG_ASSIGN_OR_RETURN(DnnRunner runner, LoadTfjsDnn(model_dir / "liveness.json",
                                                    {1, kInputSize, kInputSize, 3}, {"Identity"}));
  if (runner.output_shapes()[0] != std::vector<int>{1, 2}) {
    return Status::BadInput("model.corrupt", "liveness.json: unexpected output shape");
  }
  return std::unique_ptr<LivenessModel>(new LivenessDnn(std::move(runner)));
}

}  // namespace livegate::vision
