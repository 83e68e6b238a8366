// Removed once the library has real sources.
namespace umstore::sip { void placeholder() {} }
