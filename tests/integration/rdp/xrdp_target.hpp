#pragma once
// A second real RDP target for what FreeRDP's shadow server cannot do (the clipboard): xrdp in
// front of a private TigerVNC X server (Xvnc -displayfd, its own MIT cookie and VNC password),
// with xrdp's channel server (xrdp-chansrv) bridging the RDP clipboard to that display's X
// selections. xrdp runs in the foreground with a config of its own (127.0.0.1 and a free port,
// a certificate made here, TLS security, logs in the test's directory). Everything is stopped
// by PID.
#include <sys/stat.h>

#include "rdp_env.hpp"

namespace rdp_e2e {

class XrdpTarget {
 public:
  explicit XrdpTarget(const std::string& dir) : dir_(dir) {
    auth_ = dir + "/xauth-xrdp";
    const std::string cookie = api_test::randomHex(16);
    vigil::test::runCommand("xauth -f " + auth_ + " add :0 MIT-MAGIC-COOKIE-1 " + cookie);
    auto pw = vigil::test::runCommand("printf '%s' '" + password_ + "' | vncpasswd -f > " + dir + "/vnc.pass");
    if (pw.exit_code != 0) throw std::runtime_error("vncpasswd failed: " + pw.output);
    vnc_port_ = vigil::test::freeLoopbackPort();
    const std::string dfile = dir + "/display-xrdp";
    xvnc_ = Proc("Xvnc -displayfd 3 -auth " + auth_ + " -rfbport " + S(vnc_port_) +
                     " -localhost -SecurityTypes VncAuth -PasswordFile " + dir + "/vnc.pass" +
                     " -geometry 1024x768 -depth 24 -nolisten tcp 3>" + dfile,
                 dir + "/xvnc.log");
    for (int i = 0; i < 300 && display_.empty(); ++i) {
      std::string d = readFile(dfile);
      if (!d.empty() && d.back() == '\n') display_ = d.substr(0, d.size() - 1);
      else std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (display_.empty()) throw std::runtime_error("Xvnc did not start: " + readFile(dir + "/xvnc.log"));
    vigil::test::runCommand("xauth -f " + auth_ + " add :" + display_ + " MIT-MAGIC-COOKIE-1 " + cookie);
    // xrdp finds the channel server by the display number, in its socket directory.
    ::mkdir("/run/xrdp", 0755);
    ::mkdir("/run/xrdp/sockdir", 01777);
    const std::string chansrv_socket = "/run/xrdp/sockdir/xrdp_chansrv_socket_" + display_;
    chansrv_ = Proc("env DISPLAY=:" + display_ + " XAUTHORITY=" + auth_ + " CHANSRV_LOG_PATH=" + dir + " xrdp-chansrv",
                    dir + "/chansrv.log");
    for (int i = 0; i < 100 && ::access(chansrv_socket.c_str(), F_OK) != 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (::access(chansrv_socket.c_str(), F_OK) != 0) throw std::runtime_error("xrdp-chansrv did not start");
    vigil::test::runCommand("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=xrdp-test -keyout " + dir +
                            "/xrdp-key.pem -out " + dir + "/xrdp-cert.pem 2>/dev/null");
    port_ = vigil::test::freeLoopbackPort();
    std::ofstream(dir + "/xrdp.ini") << "[Globals]\nini_version=1\nfork=false\nport=tcp://127.0.0.1:" << port_
                                     << "\nuse_vsock=false\nsecurity_layer=tls\ncrypt_level=high\ncertificate=" << dir
                                     << "/xrdp-cert.pem\nkey_file=" << dir
                                     << "/xrdp-key.pem\nssl_protocols=TLSv1.2, TLSv1.3\nautorun=vnc\nallow_channels=true\n"
                                        "max_bpp=32\nnew_cursors=true\nuse_fastpath=both\nrequire_credentials=true\n"
                                        "[Logging]\nLogFile="
                                     << dir << "/xrdp.log\nLogLevel=INFO\nEnableSyslog=false\n"
                                     << "[Channels]\nrdpdr=false\nrdpsnd=false\ndrdynvc=false\ncliprdr=true\nrail=false\n"
                                        "xrdpvr=false\ntcutils=false\n"
                                     << "[vnc]\nname=vnc\nlib=libvnc.so\nusername=na\npassword=ask\nip=127.0.0.1\nport="
                                     << vnc_port_ << "\nchansrvport=DISPLAY(" << display_ << ")\n";
    xrdp_ = Proc("xrdp --nodaemon --config " + dir + "/xrdp.ini", dir + "/xrdp.out");
    World::waitPort(port_);
  }

  int port() const { return port_; }
  /// The VNC password: what the vault holds for this target's account.
  const std::string& password() const { return password_; }
  /// "env DISPLAY=... XAUTHORITY=..." for the target's X display.
  std::string env() const { return "env DISPLAY=:" + display_ + " XAUTHORITY=" + auth_ + " "; }
  std::string log() const { return readFile(dir_ + "/xrdp.log"); }

 private:
  std::string dir_, auth_, display_;
  std::string password_ = "v" + api_test::randomHex(3);  // VNC passwords are at most 8 characters
  int vnc_port_ = 0, port_ = 0;
  Proc xvnc_, chansrv_, xrdp_;
};

/// Puts `text` on display `env`'s CLIPBOARD (xclip keeps serving it until the selection changes).
inline Proc setClipboard(const std::string& env, const std::string& text, const std::string& log) {
  return Proc("sh -c \"printf '%s' '" + text + "' | " + env + "xclip -selection clipboard -i -quiet\"", log);
}

/// The CLIPBOARD of display `env` as xclip reads it ("" when nobody owns it or it times out).
inline std::string readClipboard(const std::string& env) {
  auto r = vigil::test::runCommand(env + "timeout 5 xclip -selection clipboard -o 2>/dev/null");
  return r.exit_code == 0 ? r.output : std::string();
}

/// Waits up to `ms` for display `env`'s clipboard to read `text`.
inline bool waitClipboard(const std::string& env, const std::string& text, int ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (readClipboard(env) == text) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  return false;
}

}  // namespace rdp_e2e
