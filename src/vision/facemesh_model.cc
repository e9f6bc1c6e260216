// FaceMesh (468 points) from @vladmandic/human's facemesh.json (MediaPipe),
// run on cv::dnn (issue 2; landmarks for head pose and eye/mouth measures used
// by the challenge-response liveness checks: R-CLI-ASD-1 nod/shake/open mouth,
// R-ASD-2 face angle, R-CLI-ASD-4(b) feature extraction). Input as human:
// rgb / 255.
#include "vision/dnn_builder.h"
#include "vision/models.h"
#include "vision/tfjs_to_dnn.h"

namespace livegate::vision {
namespace {

constexpr int kPoints = 468;

class FaceMeshDnn final : public FaceMeshModel {
 public:
  explicit FaceMeshDnn(DnnRunner runner) : runner_(std::move(runner)) {}

  Result<FaceMeshOutput> Run(const cv::Mat& rgb192) override {
    LG_ASSIGN_OR_RETURN(cv::Mat blob, RgbToBlob(rgb192, kInputSize, cv::Scalar::all(0), 255.0));
    LG_ASSIGN_OR_RETURN(auto outs, runner_.Run(blob));
    FaceMeshOutput out;
    out.points.reserve(kPoints);
    for (int i = 0; i < kPoints; ++i) {
      out.points.emplace_back(outs[0][3 * i], outs[0][3 * i + 1], outs[0][3 * i + 2]);
    }
    out.confidence = outs[1][0];  // the graph ends in a sigmoid
    return out;
  }

 private:
  DnnRunner runner_;
};

}  // namespace

Result<std::unique_ptr<FaceMeshModel>> FaceMeshModel::Load(const std::filesystem::path& model_dir) {
  // Identity_2 = output_mesh [1,1404], Identity_1 = output_faceflag [1,1].
  LG_ASSIGN_OR_RETURN(DnnRunner runner, LoadTfjsDnn(model_dir / "facemesh.json",
                                                    {1, kInputSize, kInputSize, 3},
                                                    {"Identity_2", "Identity_1"}));
  const auto& s = runner.output_shapes();
  if (s[0] != std::vector<int>{1, kPoints * 3} || s[1] != std::vector<int>{1, 1}) {
    return Status::BadInput("model.corrupt", "facemesh.json: unexpected output shapes");
  }
  return std::unique_ptr<FaceMeshModel>(new FaceMeshDnn(std::move(runner)));
}

}  // namespace livegate::vision
