// umstore-decode: the ingest decoder process (ingest/decode_worker.hpp).
#include "ingest/decode_worker.hpp"

int main(int argc, char** argv) { return umstore::ingest::decode_worker_main(argc, argv); }
