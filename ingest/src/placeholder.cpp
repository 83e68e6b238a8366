// Removed once the library has real sources.
namespace umstore::ingest { void placeholder() {} }
