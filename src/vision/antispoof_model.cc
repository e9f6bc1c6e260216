// human's passive `antispoof` model (128x128 -> one sigmoid; upstream: flags
// computer-generated faces, R-ASD-6), run on cv::dnn (issue 2; X.1279 client
// anti-spoofing detection, a weak signal only, see
// /work/shared/notes/models.md). Input as human: the face crop / 255.
#include "vision/dnn_builder.h"
#include "vision/models.h"
#include "vision/tfjs_to_dnn.h"

namespace livegate::vision {
namespace {

class AntispoofDnn final : public AntispoofModel {
 public:
  explicit AntispoofDnn(DnnRunner runner) : runner_(std::move(runner)) {}
  Result<float> Run(const cv::Mat& rgb128) override {
    LG_ASSIGN_OR_RETURN(cv::Mat blob, RgbToBlob(rgb128, kInputSize, cv::Scalar::all(0), 255.0));
    LG_ASSIGN_OR_RETURN(auto outs, runner_.Run(blob));
    return outs[0][0];
  }

 private:
  DnnRunner runner_;
};

}  // namespace

Result<std::unique_ptr<AntispoofModel>> AntispoofModel::Load(const std::filesystem::path& model_dir) {
  LG_ASSIGN_OR_RETURN(DnnRunner runner, LoadTfjsDnn(model_dir / "antispoof.json",
                                                    {1, kInputSize, kInputSize, 3}, {"Identity"}));
  if (runner.output_shapes()[0] != std::vector<int>{1, 1}) {
    return Status::BadInput("model.corrupt", "antispoof.json: unexpected output shape");
  }
  return std::unique_ptr<AntispoofModel>(new AntispoofDnn(std::move(runner)));
}

}  // namespace livegate::vision
