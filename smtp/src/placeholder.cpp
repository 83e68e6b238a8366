// Removed once the library has real sources.
namespace umstore::smtp { void placeholder() {} }
