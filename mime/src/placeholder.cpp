// Removed once the library has real sources.
namespace umstore::mime { void placeholder() {} }
