// Writes tests/vectors/protocol.json from the C++ implementation (see
// protocol_vectors.h). Usage: livegate_make_protocol_vectors OUT.json
#include <fstream>
#include <iostream>

#include "vectors/protocol_vectors.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: livegate_make_protocol_vectors OUT.json\n";
    return 2;
  }
  auto doc = livegate::vectors::ComputeDeterministic(livegate::vectors::DefaultInputs());
  if (!doc.ok()) {
    std::cerr << doc.status().ToString() << "\n";
    return 1;
  }
  if (auto st = livegate::vectors::SealEnvelopes(*doc); !st.ok()) {
    std::cerr << st.ToString() << "\n";
    return 1;
  }
  std::ofstream out(argv[1]);
  out << doc->dump(2) << "\n";
  if (!out) {
    std::cerr << "cannot write " << argv[1] << "\n";
    return 1;
  }
  std::cout << "wrote " << argv[1] << "\n";
  return 0;
}
