// File transfer through the proxy: a 100 MB file round-trips by legacy scp and by sftp.
#include <catch2/catch.hpp>

#include "ssh_env.hpp"

using namespace vigil::test;
using namespace std::chrono_literals;

namespace {

std::string sha256(const std::string& path) {
  std::string out = shellOut("sha256sum " + path);
  return out.substr(0, 64);
}

/// A 100 MB random file, made once per process.
const std::string& bigFile() {
  static std::string path = [] {
    std::string p = (SshEnv::get().dir / "big.bin").string();
    shellOut("head -c 100M /dev/urandom > " + p);
    return p;
  }();
  return path;
}

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

TEST_CASE("a 100 MB file round-trips by legacy scp with the same checksum", "[ssh][integration][transfer]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  const std::string& src = bigFile();
  std::string remote = "/tmp/vigil-sshp-scp-" + randomAlnum(8) + ".bin";
  std::string back = (env.dir / "scp-back.bin").string();
  std::string scp = "scp -O -q " + env.sshOpts() + " -P " + std::to_string(env.port()) + " ";
  std::size_t sessions = env.gk.sessionCount();

  auto t0 = std::chrono::steady_clock::now();
  auto up = run(scp + src + " " + env.token("web01") + "@127.0.0.1:" + remote);
  double up_s = seconds(t0);
  INFO(up.err);
  REQUIRE(up.status == 0);
  t0 = std::chrono::steady_clock::now();
  auto down = run(scp + env.token("web01") + "@127.0.0.1:" + remote + " " + back);
  double down_s = seconds(t0);
  INFO(down.err);
  REQUIRE(down.status == 0);
  CHECK(sha256(back) == sha256(src));
  WARN("scp through the proxy: up " << 100.0 / up_s << " MB/s, down " << 100.0 / down_s << " MB/s");
  (void)run("rm -f " + remote + " " + back);

  auto rec = env.gk.waitSession(sessions + 1, 5s);
  REQUIRE(rec);
  REQUIRE(rec->waitEnded(10s));
  std::lock_guard lk(rec->mu);
  CHECK(rec->channel_kind == "exec");
  CHECK(rec->channel_command.rfind("scp ", 0) == 0);
  CHECK(rec->bytes_from_client >= 100u * 1024 * 1024);
  // File-transfer bytes are binary: they are not recorded as terminal output.
  CHECK(rec->input.empty());
  CHECK(rec->output.empty());
  REQUIRE(!rec->files.empty());
  CHECK(rec->files.front().operation == "upload");
  CHECK(rec->files.front().bytes == 100u * 1024 * 1024);
}

TEST_CASE("a 100 MB file round-trips by sftp with the same checksum", "[ssh][integration][transfer]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  const std::string& src = bigFile();
  std::string remote = "/tmp/vigil-sshp-sftp-" + randomAlnum(8) + ".bin";
  std::string back = (env.dir / "sftp-back.bin").string();
  std::string batch = (env.dir / "sftp.batch").string();
  {
    std::ofstream b(batch);
    b << "put " << src << " " << remote << "\nget " << remote << " " << back << "\nrm " << remote << "\n";
  }
  std::size_t sessions = env.gk.sessionCount();
  auto t0 = std::chrono::steady_clock::now();
  auto r = run("sftp -q -b " + batch + " " + env.sshOpts() + " -P " + std::to_string(env.port()) + " " +
               env.token("web01") + "@127.0.0.1");
  double s = seconds(t0);
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(sha256(back) == sha256(src));
  WARN("sftp through the proxy: 200 MB (put + get) in " << s << " s = " << 200.0 / s << " MB/s");
  std::filesystem::remove(back);

  auto rec = env.gk.waitSession(sessions + 1, 5s);
  REQUIRE(rec);
  REQUIRE(rec->waitEnded(10s));
  std::lock_guard lk(rec->mu);
  CHECK(rec->channel_kind == "subsystem");
  CHECK(rec->channel_command == "subsystem:sftp");
  CHECK(rec->bytes_from_client >= 100u * 1024 * 1024);
  CHECK(rec->bytes_to_client >= 100u * 1024 * 1024);
  CHECK(rec->output.empty());
  bool saw_upload = false, saw_download = false, saw_remove = false;
  for (auto& op : rec->files) {
    if (op.operation == "upload" && op.path == remote) saw_upload = op.bytes == 100u * 1024 * 1024;
    if (op.operation == "download" && op.path == remote) saw_download = op.bytes == 100u * 1024 * 1024;
    if (op.operation == "remove" && op.path == remote) saw_remove = true;
  }
  CHECK(saw_upload);
  CHECK(saw_download);
  CHECK(saw_remove);
}

TEST_CASE("scp through the proxy uses sftp by default and works too", "[ssh][integration][transfer]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  std::string remote = "/tmp/vigil-sshp-scpsftp-" + randomAlnum(8);
  auto up = run("scp -q " + env.sshOpts() + " -P " + std::to_string(env.port()) + " /etc/services " +
                env.token("web01") + "@127.0.0.1:" + remote);
  INFO(up.err);
  CHECK(up.status == 0);
  CHECK(shellOut("cmp /etc/services " + remote + " && echo same") == "same\n");
  (void)run("rm -f " + remote);
}

TEST_CASE("bulk output through the proxy compared with a direct connection", "[.][bench]") {
  auto& env = SshEnv::get();
  REQUIRE_ENV(env);
  auto time = [](const std::string& cmd) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = run(cmd);
    INFO(r.err);
    CHECK(r.status == 0);
    return seconds(t0);
  };
  std::string pw = (env.dir / "pw").string();
  {
    std::ofstream(pw) << env.sshd.password();
  }
  double direct = time("sshpass -f " + pw + " ssh " + env.sshOpts("ERROR", false) + " -p " +
                       std::to_string(env.sshd.port()) + " " + env.sshd.user() + "@127.0.0.1 \"head -c 500M /dev/zero\" >/dev/null");
  double proxied = time(env.ssh(env.token("web01")) + " \"head -c 500M /dev/zero\" >/dev/null");
  double up = time("head -c 500M /dev/zero | " + env.ssh(env.token("web01")) + " \"cat >/dev/null\"");
  WARN("500 MB target->client: direct " << 500 / direct << " MB/s, through Vigil " << 500 / proxied
                                        << " MB/s; client->target through Vigil " << 500 / up << " MB/s");
}
