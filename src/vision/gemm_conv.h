// A dense (group 1) 2-D convolution computed as im2col + one OpenBLAS
// cblas_sgemm per image, as a cv::dnn custom layer. OpenCV 4.6 runs regular
// convolutions through its own im2row + fastGEMM at ~20 GMAC/s on this
// machine; OpenBLAS 0.3.21 sgemm ran the descriptor's shapes at 40-48 GMAC/s
// on one core. Used for every convolution of the face descriptor (issue 2
// performance; X.1279 server comparison function R-SRV-CMP-1 stands on it).
// See docs/MODELS.md "GEMM convolution layer".
//
// Layer parameters (cv::dnn::LayerParams, as DnnNetBuilder::GemmConv sets
// them): kernel_h, kernel_w, stride_h, stride_w, pad_t, pad_b, pad_l, pad_r
// (explicit; asymmetric allowed), relu (bool: max(x, 0) fused into the bias
// pass). blobs[0] = weights OIHW (CV_32F, 4-D); bias_blob, slopes_blob
// (PReLU, one per output channel; ReLU is slope 0) name the index of
// optional 1 x O blobs (without bias_blob, blobs[1] is the bias). Input
// N x C x H x W, N >= 1; output N x O x H' x W'. An optional second input
// is added before the activation (a residual connection:
// act(conv(x) + bias + residual)), saving the separate Eltwise pass over the
// tensor; it may have fewer channels than the output (a residual
// zero-padded on channels: only the first channels get it).
//
// Issue 16 (FaceMesh / Iris cost per frame): direct_kernels (bool) runs the
// products on conv_kernels.h (register-tiled AVX2 FMA GEMM with the whole
// epilogue on the registers)
// instead of OpenBLAS, when those kernels are vectorised on this CPU.
// dw_weights_blob (C x 1 x kh x kw) with dw_stride_h/w, dw_pad_t/b/l/r and
// an optional dw_bias_blob makes the layer run that depthwise convolution
// on its input first (into a scratch buffer): MobileNet's depthwise 3x3 and
// the 1x1 after it are one cv::dnn layer, run a band of rows at a time so
// that the band's depthwise output and residual rows are still in cache
// when the 1x1 reads them.
//
// Threads: OpenBLAS is set to one thread (openblas_set_num_threads(1)) when
// the layer type is registered. The server runs one analyzer (one cv::dnn
// network) per worker thread, so the parallelism is across requests; an
// OpenBLAS thread pool of its own would make those workers fight over the
// same cores behind OpenCV's back. Instead the layer follows
// cv::setNumThreads like every cv::dnn layer: its independent GEMM tiles
// (and im2col's input channels) go through cv::parallel_for_, each calling
// the single-threaded sgemm; with cv::setNumThreads(1) everything runs on
// the caller's thread.
// Concurrent forward calls from several threads are fine: each network has
// its own layer instances and scratch buffers (cv::dnn internals), the
// weights are read-only after construction, and OpenBLAS 0.3.21 (pthread
// build) is safe to call from several threads at once.
#pragma once

namespace livegate::vision {

// The cv::dnn layer type name.
inline constexpr const char* kGemmConvLayerType = "LivegateGemmConv";

// Registers kGemmConvLayerType with cv::dnn::LayerFactory and sets OpenBLAS
// to one thread. Idempotent and thread-safe (std::call_once); must run
// before a network using the layer is set up (DnnNetBuilder::GemmConv calls
// it). Shape errors at run time (wrong channel count, input smaller than the
// window, not 4-D) are thrown as cv::Exception by Net::forward, like every
// cv::dnn layer's: callers turn them into a Status.
void RegisterGemmConvLayer();

}  // namespace livegate::vision
