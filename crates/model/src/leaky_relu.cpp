// libtorch's LeakyReLU with its slope argument, which tch 0.26 leaves out of its bindings (they
// call it with the 0.01 default). One operator, vectorised forward and backward, with libtorch's
// autograd; see leaky_relu in lib.rs for why it is not PReLU.
#include <ATen/ATen.h>
#include <cstring>

// The result, or null with libtorch's message in `error` (at most `error_len` bytes, with its 0).
extern "C" at::Tensor* model_leaky_relu(const at::Tensor* x, double slope, char* error, size_t error_len) {
  try {
    return new at::Tensor(at::leaky_relu(*x, slope));
  } catch (const std::exception& e) {
    std::strncpy(error, e.what(), error_len - 1);
    error[error_len - 1] = '\0';
    return nullptr;
  }
}
