// Frame latency target -> client for bench/rdp: paints a small square on the target's X display in
// a new colour, then polls one pixel of each client's X display (xfreerdp's window, at the same
// coordinates) until it shows that colour. Prints one JSON object per client:
//   {"client":0,"samples":40,"lost":0,"median_ms":..,"p90_ms":..,"max_ms":..}
//
// Usage: rdp_frame_probe --target DISPLAY,XAUTHORITY --client DISPLAY,XAUTHORITY [--client ...]
//                        [--samples 40] [--interval-ms 300] [--x 1180] [--y 720] [--timeout-ms 3000]
#include <X11/Xlib.h>
#include <X11/Xutil.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct ProbeDisplay {
  Display* dpy = nullptr;
  Window root = 0;
};

ProbeDisplay open(const std::string& spec) {
  const auto comma = spec.find(',');
  const std::string display = spec.substr(0, comma);
  if (comma != std::string::npos) setenv("XAUTHORITY", spec.substr(comma + 1).c_str(), 1);  // read by XOpenDisplay
  ProbeDisplay s;
  s.dpy = XOpenDisplay(display.c_str());
  if (!s.dpy) {
    std::fprintf(stderr, "rdp_frame_probe: cannot open display %s\n", display.c_str());
    std::exit(2);
  }
  s.root = DefaultRootWindow(s.dpy);
  return s;
}

unsigned long pixelAt(const ProbeDisplay& s, int x, int y) {
  XImage* img = XGetImage(s.dpy, s.root, x, y, 1, 1, AllPlanes, ZPixmap);
  if (!img) return ~0UL;
  const unsigned long p = XGetPixel(img, 0, 0) & 0xFFFFFF;
  XDestroyImage(img);
  return p;
}

// Lossy codecs to the client (RemoteFX) shift colours a little.
bool near(unsigned long a, unsigned long b) {
  for (int shift = 0; shift < 24; shift += 8) {
    const int ca = static_cast<int>((a >> shift) & 0xFF), cb = static_cast<int>((b >> shift) & 0xFF);
    if (std::abs(ca - cb) > 40) return false;
  }
  return true;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  std::string target_spec;
  std::vector<std::string> client_specs;
  int samples = 40, interval_ms = 300, x = 1180, y = 720, timeout_ms = 3000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "rdp_frame_probe: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--target") target_spec = next();
    else if (a == "--client") client_specs.push_back(next());
    else if (a == "--samples") samples = std::atoi(next().c_str());
    else if (a == "--interval-ms") interval_ms = std::atoi(next().c_str());
    else if (a == "--x") x = std::atoi(next().c_str());
    else if (a == "--y") y = std::atoi(next().c_str());
    else if (a == "--timeout-ms") timeout_ms = std::atoi(next().c_str());
    else if (a == "--help" || a == "-h") {
      std::printf("usage: rdp_frame_probe --target DISPLAY,XAUTHORITY --client DISPLAY,XAUTHORITY [--client ...]\n"
                  "       [--samples N] [--interval-ms N] [--x N] [--y N] [--timeout-ms N]\n");
      return 0;
    } else {
      std::fprintf(stderr, "rdp_frame_probe: unknown argument %s (try --help)\n", a.c_str());
      return 2;
    }
  }
  if (target_spec.empty() || client_specs.empty() || samples < 1) {
    std::fprintf(stderr, "rdp_frame_probe: --target and at least one --client are required (try --help)\n");
    return 2;
  }
  ProbeDisplay target = open(target_spec);
  std::vector<ProbeDisplay> clients;
  for (const auto& c : client_specs) clients.push_back(open(c));

  // The square: an override-redirect window (no window manager needed), above everything else.
  XSetWindowAttributes attrs{};
  attrs.override_redirect = True;
  const int side = 48;
  Window square = XCreateWindow(target.dpy, target.root, x - side / 2, y - side / 2, side, side, 0, CopyFromParent,
                                InputOutput, CopyFromParent, CWOverrideRedirect, &attrs);
  XMapRaised(target.dpy, square);
  XSync(target.dpy, False);

  // Colours far apart in every channel, taken in turn.
  const unsigned long colours[] = {0xE01010, 0x10E010, 0x1010E0, 0xE0E010, 0x10E0E0, 0xE010E0};
  std::vector<std::vector<double>> latencies(clients.size());
  std::vector<int> lost(clients.size(), 0);
  for (int n = -1; n < samples; ++n) {  // sample -1 warms up (the first paint of the square)
    const unsigned long colour = colours[(n + 1) % 6];
    XSetWindowBackground(target.dpy, square, colour);
    XClearWindow(target.dpy, square);
    XSync(target.dpy, False);
    const auto t0 = Clock::now();
    std::vector<bool> done(clients.size(), false);
    std::size_t remaining = clients.size();
    while (remaining > 0 && Clock::now() - t0 < std::chrono::milliseconds(timeout_ms)) {
      for (std::size_t c = 0; c < clients.size(); ++c) {
        if (done[c] || !near(pixelAt(clients[c], x, y), colour)) continue;
        done[c] = true;
        --remaining;
        if (n >= 0) latencies[c].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
      if (remaining > 0) std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    for (std::size_t c = 0; c < clients.size(); ++c)
      if (!done[c] && n >= 0) ++lost[c];
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
  XDestroyWindow(target.dpy, square);
  XSync(target.dpy, False);
  for (std::size_t c = 0; c < clients.size(); ++c) {
    std::printf("{\"client\":%zu,\"samples\":%zu,\"lost\":%d,\"median_ms\":%.1f,\"p90_ms\":%.1f,\"max_ms\":%.1f}\n", c,
                latencies[c].size(), lost[c], percentile(latencies[c], 0.5), percentile(latencies[c], 0.9),
                percentile(latencies[c], 1.0));
  }
  for (auto& c : clients) XCloseDisplay(c.dpy);
  XCloseDisplay(target.dpy);
  return 0;
}
