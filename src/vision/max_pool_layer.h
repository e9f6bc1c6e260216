// 2x2 stride-2 max pooling as a cv::dnn custom layer (issue 16, "cost per
// authentication"): the shortcut of FaceMesh's and Iris's stride-2 blocks.
// OpenCV 4.6's Pooling layer took 0.08-0.11 ms for FaceMesh's first one
// (16 x 96 x 96 -> 48 x 48), several times the memory traffic's cost; this
// one reads each input row pair once with SIMD loads.
//
// Input N x C x H x W (CV_32F, continuous); output N x C x ceil(H/2) x
// ceil(W/2): a window that runs past an odd edge takes the max of the
// inputs it covers (TF's SAME on an odd size pads with -inf after; on even
// sizes SAME and VALID are the same windows). VALID on an odd size (floor)
// is not this layer: DnnNetBuilder::MaxPool2x2 is only used where the two
// agree (even sizes, or SAME).
#pragma once

namespace livegate::vision {

inline constexpr const char* kMaxPool2x2LayerType = "LivegateMaxPool2x2";

// Registers kMaxPool2x2LayerType with cv::dnn::LayerFactory. Idempotent and
// thread-safe (std::call_once).
void RegisterMaxPool2x2Layer();

}  // namespace livegate::vision
