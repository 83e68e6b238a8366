// Removed once the library has real sources.
namespace umstore::imap { void placeholder() {} }
