#include "util/idle_meter.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace spillway::util {
namespace {

using std::chrono::milliseconds;

class FakeProcStat {
 public:
  FakeProcStat()
      : path_((std::filesystem::temp_directory_path() /
               ("spillway-idle-meter-" + std::to_string(::getpid()) + ".stat"))
                  .string()) {}
  ~FakeProcStat() { std::remove(path_.c_str()); }
  // user nice system idle iowait irq softirq steal, as /proc/stat's first line, then a per-CPU line.
  void write(uint64_t user, uint64_t system, uint64_t idle, uint64_t iowait) {
    std::ofstream out(path_, std::ios::trunc);
    out << "cpu  " << user << " 0 " << system << " " << idle << " " << iowait << " 0 0 0 0 0\n"
        << "cpu0 1 2 3 4 5 6 7 8 9 10\n";
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(IdleMeter, MeasuresTheIdleShareOfTheIntervalBetweenReadings) {
  FakeProcStat stat;
  stat.write(100, 100, 700, 100);
  IdleMeter meter(stat.path(), milliseconds(100), milliseconds(1000));
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  EXPECT_EQ(meter.idle_fraction(t0), 0);  // no interval measured yet

  stat.write(150, 150, 780, 120);  // +200 ticks in all, +100 of them idle or iowait
  EXPECT_DOUBLE_EQ(meter.idle_fraction(t0 + milliseconds(150)), 0.5);

  stat.write(400, 400, 780, 120);  // busy, but read too soon after the last reading: the last figure
  EXPECT_DOUBLE_EQ(meter.idle_fraction(t0 + milliseconds(200)), 0.5);
  EXPECT_DOUBLE_EQ(meter.idle_fraction(t0 + milliseconds(300)), 0.0);  // now it counts: 500 busy ticks

  stat.write(400, 400, 1780, 120);  // a long idle stretch, but a second without readings passed
  EXPECT_EQ(meter.idle_fraction(t0 + milliseconds(2000)), 0);
  stat.write(410, 400, 1800, 120);
  EXPECT_NEAR(meter.idle_fraction(t0 + milliseconds(2100)), 20.0 / 30.0, 1e-9);
}

TEST(IdleMeter, AMissingFileReadsAsIdle) {
  IdleMeter meter("/nonexistent-spillway/stat");
  EXPECT_EQ(meter.idle_fraction(std::chrono::steady_clock::now()), 1);
}

TEST(IdleMeter, TheRealProcStatGivesAFractionBetweenZeroAndOne) {
  IdleMeter meter;
  const auto t0 = std::chrono::steady_clock::now();
  meter.idle_fraction(t0);
  const double f = meter.idle_fraction(t0 + milliseconds(150));
  EXPECT_GE(f, 0.0);
  EXPECT_LE(f, 1.0);
}

}  // namespace
}  // namespace spillway::util
