// Removed once the library has real sources.
namespace umstore::mailstore { void placeholder() {} }
