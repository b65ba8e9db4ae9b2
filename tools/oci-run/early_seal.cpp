// The oci-run binary's ELF entry point: before glibc starts, a `create` or
// `run` with a bundle (the runc command lines that containerd, podman and
// the bench use) re-executes the binary from a view of it that nothing can
// write through (CVE-2019-5736, see exe_seal.hpp). The first process then
// never runs glibc's start-up (its CPUID probing is trapped by hypervisors:
// about 1 ms) nor C++'s, and the re-executed one runs them once. Any other command
// line, or any failure here, goes on to glibc's _start as if this code were
// not there; main's ensure_sealed_binary then does the same work the usual
// way and reports errors properly.
//
// Nothing here may depend on the C library or on relocations (it runs
// before a static-pie binary relocates itself): raw syscalls, no globals
// holding pointers, no calls into libc (meson.build builds this file with
// -ffreestanding, -fno-builtin and without the stack protector, whose canary
// lives in TLS that does not exist yet).
#include <elf.h>
#include <fcntl.h>
#include <sys/syscall.h>

#include "exe_seal.hpp"

namespace seal = ocikit::run::seal;

namespace {

long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
  long ret;
  register long r10 asm("r10") = d;
  register long r8 asm("r8") = e;
  asm volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return ret;
}

using seal::str_eq;

bool starts(const char* a, const char* prefix) {
  while (*prefix && *a == *prefix) a++, prefix++;
  return *prefix == 0;
}

// The global options of oci-run and oci-run-manage that take a value
// (router.hpp's kGlobalOptions).
bool global_takes_value(const char* a) {
  return str_eq(a, "--root") || str_eq(a, "--log") || str_eq(a, "--log-format") || str_eq(a, "--log-level") ||
      str_eq(a, "--rootless") || str_eq(a, "--state-dir") || str_eq(a, "--store") || str_eq(a, "-H") ||
      str_eq(a, "--host") || str_eq(a, "--context") || str_eq(a, "--remote-token");
}

// router.cpp's has_bundle_flag: such a create or run is runc's, whatever else
// the command line holds.
bool bundle_flag(char** args) {
  for (; *args; args++) {
    const char* a = *args;
    if (str_eq(a, "--")) return false;
    if (str_eq(a, "-b") || str_eq(a, "--bundle") || starts(a, "--bundle=") || (starts(a, "-b") && a[2] != 0))
      return true;
  }
  return false;
}

}  // namespace

// True for a create or run with a bundle flag (run_early_seal_test.cpp).
extern "C" bool ocikit_early_seal_wanted(long argc, char** argv) {
  long ci = 1;
  for (; ci < argc; ci++) {
    const char* a = argv[ci];
    if (a[0] != '-') break;
    if (global_takes_value(a)) ci++;
  }
  return ci < argc && (str_eq(argv[ci], "create") || str_eq(argv[ci], "run")) && bundle_flag(argv + ci + 1);
}

extern "C" [[gnu::used]] void ocikit_early_seal(long* sp) {
  long argc = sp[0];
  char** argv = reinterpret_cast<char**>(sp + 1);
  char** envp = argv + argc + 1;
  if (!ocikit_early_seal_wanted(argc, argv)) return;

  // What execve maps, from the program headers in memory (auxv after envp):
  // the copy stops at the end of the last loaded segment, leaving out the
  // debug sections (container.cpp's loaded_size does the same from the file).
  char** e = envp;
  while (*e) e++;
  const Elf64_Phdr* ph = nullptr;
  long phnum = 0;
  for (auto* av = reinterpret_cast<Elf64_auxv_t*>(e + 1); av->a_type != AT_NULL; av++) {
    if (av->a_type == AT_PHDR) ph = reinterpret_cast<const Elf64_Phdr*>(av->a_un.a_val);
    if (av->a_type == AT_PHNUM) phnum = static_cast<long>(av->a_un.a_val);
  }
  if (!ph || phnum == 0) return;
  long size = 0;
  for (long i = 0; i < phnum; i++)
    if (ph[i].p_type == PT_LOAD && static_cast<long>(ph[i].p_offset + ph[i].p_filesz) > size)
      size = static_cast<long>(ph[i].p_offset + ph[i].p_filesz);

  long self = sys(SYS_open, reinterpret_cast<long>("/proc/self/exe"), O_RDONLY | O_CLOEXEC);
  if (self < 0) return;
  if (!seal::is_protected(sys, self)) seal::reexec(sys, self, size, argv, envp);
  sys(SYS_close, self);  // protected already, or the usual path tries again and says what failed
}

// The entry point (meson.build links with -e ocikit_early_entry). The
// kernel starts it with %rsp at argc, 16-byte aligned, and %rdx holding
// the dynamic loader's fini function (none here, but kept for _start).
asm(R"(
  .text
  .globl ocikit_early_entry
  .type ocikit_early_entry, @function
ocikit_early_entry:
  mov %rdx, %r12
  mov %rsp, %rdi
  call ocikit_early_seal
  mov %r12, %rdx
  jmp _start
  .size ocikit_early_entry, .-ocikit_early_entry
)");
