// MediaPipe Iris from @vladmandic/human's iris.json, run on cv::dnn (issue 2;
// eye landmarks for eye-openness / blink measures, R-CLI-ASD-1 "blink"). Input as human: rgb / 255.
#include "vision/dnn_builder.h"
#include "vision/models.h"
#include "vision/tfjs_to_dnn.h"

namespace livegate::vision {
namespace {

constexpr int kContour = 71, kIris = 5;

class IrisDnn final : public IrisModel {
 public:
  explicit IrisDnn(DnnRunner runner) : runner_(std::move(runner)) {}

  Result<IrisOutput> Run(const cv::Mat& rgb64) override {
    LG_ASSIGN_OR_RETURN(cv::Mat blob, RgbToBlob(rgb64, kInputSize, cv::Scalar::all(0), 255.0));
    LG_ASSIGN_OR_RETURN(auto outs, runner_.Run(blob));
    const std::vector<float>& v = outs[0];  // 71 contour points, then 5 iris points
    IrisOutput out;
    for (int i = 0; i < kContour + kIris; ++i) {
      cv::Point3f p(v[3 * i], v[3 * i + 1], v[3 * i + 2]);
      (i < kContour ? out.eye_contour : out.iris).push_back(p);
    }
    return out;
  }

 private:
  DnnRunner runner_;
};

}  // namespace

Result<std::unique_ptr<IrisModel>> IrisModel::Load(const std::filesystem::path& model_dir) {
  LG_ASSIGN_OR_RETURN(DnnRunner runner, LoadTfjsDnn(model_dir / "iris.json",
                                                    {1, kInputSize, kInputSize, 3}, {"Identity"}));
  if (runner.output_shapes()[0] != std::vector<int>{1, 1, 1, (kContour + kIris) * 3}) {
    return Status::BadInput("model.corrupt", "iris.json: unexpected output shape");
  }
  return std::unique_ptr<IrisModel>(new IrisDnn(std::move(runner)));
}

}  // namespace livegate::vision
