// Removed once the library has real sources.
namespace umstore::delivery { void placeholder() {} }
