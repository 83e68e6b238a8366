// confine_this_process: resource limits and a seccomp filter a worker puts
// on itself before it reads untrusted input (see child_process.hpp).
//
// The filter allows by default and refuses a list, rather than allowing a
// list: the decoding libraries (libsndfile, libtiff, poppler, libpng,
// libjpeg, glibc's allocator) use memory, read and write descriptors they
// were given and little else, but which exact calls they make changes with
// their versions; what a compromised decoder must not do (reach the
// network, start programs or threads, touch other processes, open or
// change files) is a short list that does not.
#include <fcntl.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "common/child_process.hpp"

namespace umstore {
namespace {

void set_limit(int resource, rlim_t soft, rlim_t hard, const char* name) {
  const rlimit limit{soft, hard};
  if (::setrlimit(resource, &limit) != 0) throw std::runtime_error(std::string("setrlimit ") + name + ": " + std::strerror(errno));
}

struct FilterDeleter {
  void operator()(void* filter) const { seccomp_release(filter); }
};
using Filter = std::unique_ptr<void, FilterDeleter>;

void refuse(const Filter& filter, int syscall, int error, unsigned count = 0, const scmp_arg_cmp* args = nullptr) {
  const int rc = seccomp_rule_add_array(filter.get(), SCMP_ACT_ERRNO(static_cast<std::uint16_t>(error)), syscall,
                                        count, args);
  // A call this architecture lacks (e.g. open on newer ones) needs no rule.
  if (rc != 0 && rc != -EDOM && rc != -EFAULT)
    throw std::runtime_error("seccomp rule for syscall " + std::to_string(syscall) + ": " + std::strerror(-rc));
}

void refuse_all(const Filter& filter, std::initializer_list<int> syscalls, int error = EPERM) {
  for (const int syscall : syscalls) refuse(filter, syscall, error);
}

// Opening: never for writing or creating; reading only when allowed.
// flags_arg is the position of the flags argument (open: 1, openat: 2).
void refuse_opening(const Filter& filter, int syscall, unsigned flags_arg, bool may_read) {
  if (!may_read) return refuse(filter, syscall, EACCES);
  for (const scmp_datum_t flag : {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC}) {
    const scmp_arg_cmp with_flag{flags_arg, SCMP_CMP_MASKED_EQ, flag, flag};
    refuse(filter, syscall, EACCES, 1, &with_flag);
  }
}

void install_filter(bool may_read_files) {
  Filter filter(seccomp_init(SCMP_ACT_ALLOW));
  if (!filter) throw std::runtime_error("seccomp_init failed");
  refuse_all(filter, {SCMP_SYS(socket), SCMP_SYS(socketpair), SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(listen),
                      SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(fork),
                      SCMP_SYS(vfork), SCMP_SYS(clone), SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv),
                      SCMP_SYS(process_vm_writev), SCMP_SYS(pidfd_open), SCMP_SYS(pidfd_getfd),
                      SCMP_SYS(io_uring_setup), SCMP_SYS(setrlimit), SCMP_SYS(prlimit64), SCMP_SYS(creat),
                      SCMP_SYS(truncate), SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rename), SCMP_SYS(renameat),
                      SCMP_SYS(renameat2), SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(rmdir), SCMP_SYS(link),
                      SCMP_SYS(linkat), SCMP_SYS(symlink), SCMP_SYS(symlinkat), SCMP_SYS(chmod), SCMP_SYS(fchmodat),
                      SCMP_SYS(chown), SCMP_SYS(lchown), SCMP_SYS(fchownat), SCMP_SYS(mknod), SCMP_SYS(mknodat),
                      SCMP_SYS(utimensat), SCMP_SYS(mount), SCMP_SYS(umount2), SCMP_SYS(chroot),
                      SCMP_SYS(open_by_handle_at), SCMP_SYS(name_to_handle_at)});
  // clone3 answers ENOSYS, so a library creating a thread sees the kernel
  // lack it and tries clone, which is refused.
  refuse(filter, SCMP_SYS(clone3), ENOSYS);
  refuse(filter, SCMP_SYS(openat2), ENOSYS);
  refuse_opening(filter, SCMP_SYS(open), 1, may_read_files);
  refuse_opening(filter, SCMP_SYS(openat), 2, may_read_files);
  // Signals only to itself (abort() raises SIGABRT with tgkill).
  const auto self = static_cast<scmp_datum_t>(::getpid());
  const scmp_arg_cmp other_process{0, SCMP_CMP_NE, self, 0};
  for (const int syscall : {SCMP_SYS(kill), SCMP_SYS(tkill), SCMP_SYS(tgkill), SCMP_SYS(rt_sigqueueinfo),
                            SCMP_SYS(rt_tgsigqueueinfo), SCMP_SYS(pidfd_send_signal)})
    refuse(filter, syscall, EPERM, 1, &other_process);
  if (const int rc = seccomp_load(filter.get()); rc != 0)
    throw std::runtime_error(std::string("seccomp_load: ") + std::strerror(-rc));
}

}  // namespace

void confine_this_process(const Confinement& limits) {
  ::close_range(3, ~0u, 0);
  const auto cpu = static_cast<rlim_t>(limits.cpu.count());
  set_limit(RLIMIT_CPU, cpu, cpu + 1, "RLIMIT_CPU");
  set_limit(RLIMIT_AS, limits.address_space, limits.address_space, "RLIMIT_AS");
  set_limit(RLIMIT_FSIZE, 0, 0, "RLIMIT_FSIZE");
  set_limit(RLIMIT_CORE, 0, 0, "RLIMIT_CORE");
  set_limit(RLIMIT_NPROC, 0, 0, "RLIMIT_NPROC");
  set_limit(RLIMIT_NOFILE, limits.open_files, limits.open_files, "RLIMIT_NOFILE");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    throw std::runtime_error(std::string("PR_SET_NO_NEW_PRIVS: ") + std::strerror(errno));
  install_filter(limits.may_read_files);
}

}  // namespace umstore
