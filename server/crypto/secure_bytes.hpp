#pragma once
// Memory for secrets: every buffer is wiped with OPENSSL_cleanse before it is freed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/crypto.h>

namespace vigil::crypto {

template <class T>
struct ZeroingAllocator {
  using value_type = T;
  ZeroingAllocator() noexcept = default;
  template <class U>
  ZeroingAllocator(const ZeroingAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept {
    OPENSSL_cleanse(p, n * sizeof(T));
    std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  bool operator==(const ZeroingAllocator<U>&) const noexcept { return true; }
};

/// Bytes that are zeroed when released. Use for keys and plaintext secrets.
using SecureBytes = std::vector<std::uint8_t, ZeroingAllocator<std::uint8_t>>;
/// A string that is zeroed when released (passwords, TOTP secrets, private keys). The allocator
/// wipes heap buffers; the destructor also wipes the small-string buffer inside the object,
/// which short secrets (most passwords, every TOTP code) never leave.
class SecureString : public std::basic_string<char, std::char_traits<char>, ZeroingAllocator<char>> {
  using Base = std::basic_string<char, std::char_traits<char>, ZeroingAllocator<char>>;

 public:
  using Base::Base;
  SecureString(const SecureString&) = default;
  SecureString(SecureString&&) noexcept = default;
  SecureString& operator=(const SecureString&) = default;
  SecureString& operator=(SecureString&&) noexcept = default;
  ~SecureString() { OPENSSL_cleanse(this->data(), this->capacity()); }
};

/// Plain (non-secret) bytes: ciphertexts, nonces, hashes.
using Bytes = std::vector<std::uint8_t>;

inline SecureString toSecure(std::string_view s) { return SecureString(s.begin(), s.end()); }

/// Overwrites a std::string in place (for secrets that arrived in ordinary strings, e.g. parsed JSON).
inline void wipe(std::string& s) noexcept {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

}  // namespace vigil::crypto
