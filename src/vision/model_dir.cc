#include <cstdlib>

#include "vision/models.h"

namespace livegate::vision {

std::filesystem::path DefaultModelDir() {
  const char* env = std::getenv("LIVEGATE_MODELS");
  return (env && *env) ? std::filesystem::path(env) : std::filesystem::path(LIVEGATE_MODEL_DIR_DEFAULT);
}

}  // namespace livegate::vision
