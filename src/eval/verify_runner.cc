// The verify runner is being written (see verify_runner.h).
