// Removed once the library has real sources.
namespace umstore::codecs { void placeholder() {} }
