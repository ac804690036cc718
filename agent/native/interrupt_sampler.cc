// Sonde's interrupt sampler: the Node.js shape of the original Python design (a thread that wakes every
// few milliseconds and reads the interpreter's current frames).
//
// A ticker thread wakes every interval and asks V8 to interrupt the JavaScript thread
// (Isolate::RequestInterrupt). V8 runs the interrupt on the JavaScript thread at its next safe point (a
// function entry or a loop back edge), where it reads the current request's context and, only when
// there is one, the current stack (StackTrace::CurrentStackTrace). There is no V8 CPU profiler: no
// code-event logging, no profiler thread, no signal per sample, no source positions forced on every
// compile; the cost is per sample, not per compiled function or per request.
//
// Each tick first asks the kernel what the JavaScript thread is doing (/proc/<tid>/syscall, one read of
// a file kept open). Asleep in the event loop's wait (epoll), the tick is idle and no interrupt is asked
// for: one would run at the start of whatever JavaScript comes next and charge that code with the wait.
// Otherwise the tick asks for one. A tick whose interrupt has not run by the next tick says the thread
// is not in JavaScript: running or waiting for a CPU (native code, GC, a long builtin such as
// JSON.parse) or asleep in another system call (a synchronous read, a lock) is busy; asleep in the
// event loop's wait is idle. Busy ticks are owed to the stack the interrupt finally sees (the native work
// returned into that JavaScript, the same bias as a Python frame charged for the C function it called),
// and counted apart so that JavaScript can put them under a "(native code)" leaf; a tick that finds the
// thread waiting for events again makes them busy time of no one. Where only /proc/<tid>/stat is
// readable, running is told from asleep but not the event loop's wait from other sleeps, and the
// thread's CPU clock and two idle ticks in a row stand in.
//
// Contexts: in `cped` mode the current AsyncContextFrame (continuation-preserved embedder data, a Map)
// is searched for the key of Sonde's AsyncLocalStorage; in `slot` mode an async hook keeps the current
// context in element 0 of an array this code reads. Either way nothing here runs JavaScript.
#include <node.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <v8.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace sonde {

using v8::Array;
using v8::ArrayBuffer;
using v8::Context;
using v8::Float64Array;
using v8::FunctionCallbackInfo;
using v8::FunctionTemplate;
using v8::Global;
using v8::HandleScope;
using v8::Integer;
using v8::Isolate;
using v8::Local;
using v8::Map;
using v8::Number;
using v8::Object;
using v8::StackFrame;
using v8::StackTrace;
using v8::String;
using v8::Uint32Array;
using v8::Value;

// Deeper stacks keep their innermost frames (the hot ones).
constexpr int kMaxFrames = 128;
// Idle and busy tick times a collect's buffers hold before they grow: a collect is due every 100 ms, at
// most 1,000 ticks at the shortest interval. Reserved outside the lock, so that the ticker and the
// interrupt, which push under it, do not allocate there (an allocation can be a system call).
constexpr size_t kTickReserve = 1024;
// Samples kept between two collects at most; beyond it they are counted as dropped (a collect is due
// every 100 intervals, so this is ~100 collects missed).
constexpr size_t kMaxSamples = 10000;

int64_t CpuNs(clockid_t clock) {
  timespec ts;
  if (clock_gettime(clock, &ts) != 0) return 0;
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// What the JavaScript thread is doing at one instant, as the kernel tells another thread of the process.
enum class ThreadState {
  kRunning,         // on a CPU or waiting for one
  kAwaitingEvents,  // asleep in the event loop's wait (epoll): nothing to do
  kBlocked,         // asleep in any other system call (a synchronous read, a lock, GC waiting for helpers)
  kAsleep,          // asleep, and which of the two above is unknown (only /proc/<tid>/stat was readable)
  kUnknown,
};

bool IsEventWait(long nr) {
#ifdef SYS_epoll_wait
  if (nr == SYS_epoll_wait) return true;
#endif
#ifdef SYS_epoll_pwait
  if (nr == SYS_epoll_pwait) return true;
#endif
#ifdef SYS_epoll_pwait2
  if (nr == SYS_epoll_pwait2) return true;
#endif
  return false;
}

// From /proc/<tid>/syscall: "running" (on a CPU or runnable), or the number of the system call the thread
// sleeps in ("-1" when asleep outside one, e.g. in a page fault).
ThreadState ReadSyscallState(int fd) {
  char buf[128];
  ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return ThreadState::kUnknown;
  buf[n] = 0;
  if (std::strncmp(buf, "running", 7) == 0) return ThreadState::kRunning;
  char* end = nullptr;
  long nr = std::strtol(buf, &end, 10);
  if (end == buf) return ThreadState::kUnknown;
  return IsEventWait(nr) ? ThreadState::kAwaitingEvents : ThreadState::kBlocked;
}

// From /proc/<tid>/stat, where /proc/<tid>/syscall is not readable (some sandboxes): "tid (comm) S …",
// the state after the last ')' (a thread's name may hold one).
ThreadState ReadStatState(int fd) {
  char buf[256];
  ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return ThreadState::kUnknown;
  buf[n] = 0;
  const char* paren = std::strrchr(buf, ')');
  if (paren == nullptr || paren[1] != ' ' || paren[2] == 0) return ThreadState::kUnknown;
  return paren[2] == 'R' ? ThreadState::kRunning : ThreadState::kAsleep;
}

// The JavaScript thread's state, read through a file descriptor kept open (one pread per tick, ~1 µs).
struct ThreadStateReader {
  int fd = -1;
  bool syscallFile = false;

  // Opens the thread's syscall file, or its stat file; false when neither answers.
  bool Open(long tid) {
    for (const char* name : {"syscall", "stat"}) {
      char path[64];
      std::snprintf(path, sizeof(path), "/proc/self/task/%ld/%s", tid, name);
      fd = open(path, O_RDONLY | O_CLOEXEC);
      syscallFile = std::strcmp(name, "syscall") == 0;
      if (fd >= 0 && Read() != ThreadState::kUnknown) return true;
      Close();
    }
    return false;
  }
  ThreadState Read() const {
    if (fd < 0) return ThreadState::kUnknown;
    return syscallFile ? ReadSyscallState(fd) : ReadStatState(fd);
  }
  void Close() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

struct Sample {
  double ts;         // epoch µs
  double cpuUs;      // JavaScript thread CPU since the previous sample, capped at weight × interval
  double weight;     // ticks this sample stands for (1 + busy ticks owed to it)
  double context;    // index into the batch's contexts array
  double stackStart; // index into the batch's stacks array (frame ids, innermost first)
  double stackLen;
  double native;     // of the weight, ticks the thread spent in native code before returning here
};

constexpr size_t kSampleFields = 7;
// Distinct frames (script, line, column) one sampler keeps at most; past it new ones are left out of
// stacks (a process compiling code without end: eval, templates) rather than grow the table.
constexpr size_t kMaxFrameIds = 100000;
constexpr uint32_t kNoFrame = UINT32_MAX;

struct FrameKey {
  int script;
  int line;
  int column;
  bool operator==(const FrameKey& o) const { return script == o.script && line == o.line && column == o.column; }
};
struct FrameKeyHash {
  size_t operator()(const FrameKey& k) const {
    return (static_cast<size_t>(k.script) * 1000003u) ^ (static_cast<size_t>(k.line) << 20) ^ static_cast<size_t>(k.column);
  }
};

// The outcome of one request the ticker thread makes of the kernel for itself: 0 granted, an errno when
// refused (a seccomp profile answering EPERM, an old kernel ENOSYS), kNotAsked when it did not apply,
// kNotYet until the thread has asked.
constexpr int kNotAsked = -1;
constexpr int kNotYet = -2;

// State objects alive in this process (statesAlive()): lets a test see that teardown freed them.
std::atomic<int64_t> statesAlive{0};

// What the ticker thread, the interrupts and the JavaScript thread share. Owned by the Sampler, the
// ticker thread and the registry (Samplers()); an interrupt holds only the id it was requested with.
//
// Two mutexes, so that the JavaScript thread never waits on a system call: `mu` guards the tick
// bookkeeping the interrupt reads and writes, and is held only for a few memory operations (the ticker
// reads /proc and the CPU clock and calls RequestInterrupt outside it); `wakeMu` is what the ticker sleeps
// on, and only stop and exit take it.
struct State {
  State() { statesAlive++; }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  uintptr_t id = 0;  // in the registry; the data of every interrupt this sampler requests
  Isolate* isolate = nullptr;
  int64_t intervalUs = 0;
  double epochOffsetUs = 0;  // epoch µs = uv_hrtime µs + this (the agent's clock)
  clockid_t jsCpuClock{};
  ThreadStateReader threadState;  // when it cannot read the state, the ticker goes by the CPU clock

  // The ticker's sleep: it runs while `running`, and says `tickerDone` before it returns.
  std::atomic<bool> running{false};
  std::mutex wakeMu;
  std::condition_variable wake;
  bool tickerDone = false;  // guarded by wakeMu
  // What the kernel answered the ticker's requests for itself (see the kNotYet comment).
  std::atomic<int> shortSlice{kNotYet};
  std::atomic<int> exactWakeups{kNotYet};

  // Guarded by mu: the ticker's view, and the times of ticks without a stack.
  std::mutex mu;
  bool pending = false;   // an interrupt was requested and has not run yet
  bool owed = false;      // the tick that requested it is still owed a sample
  uint32_t busyOwed = 0;  // busy ticks since, owed to the stack the interrupt will see
  uint32_t idleRun = 0;   // idle ticks in a row since the request
  double requestTs = 0;
  bool requestBusy = false;  // the kernel said the thread was running or blocked when it was requested
  std::vector<double> idle;
  std::vector<double> busy;

  // JavaScript thread only (interrupts, collect, stop).
  int64_t lastCpuNs = 0;
  std::vector<Sample> samples;
  std::vector<uint32_t> stacks;
  Global<Array> contexts;
  uint32_t contextCount = 0;
  Global<Array> newFrames;  // [name, script, line, column] per frame first seen since the last collect
  uint32_t newFrameCount = 0;
  std::unordered_map<FrameKey, uint32_t, FrameKeyHash> frameIds;
  Global<Array> slot;   // slot mode
  Global<Value> key;    // cped mode
  double dropped = 0;

  double NowUs() const { return static_cast<double>(uv_hrtime()) / 1000.0 + epochOffsetUs; }

  // Asks the ticker to stop; true once it has (false after `timeout`). Any thread.
  bool StopTicker(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(wakeMu);
    running = false;
    wake.notify_all();
    return wake.wait_for(lock, timeout, [&] { return tickerDone; });
  }

  // Freed on the JavaScript thread while its isolate lives (stop, collection, the environment's
  // teardown): the Global handles need it.
  ~State() {
    threadState.Close();
    statesAlive--;
  }
};

// The samplers running in this process, by id. An interrupt's data is an id, not a pointer to what it
// needs: V8 cannot cancel a requested interrupt, and one still pending when a worker's isolate is torn
// down never runs, so whatever it held would leak (a State per terminated worker, with its buffers and
// frame table). By id, a late or never-run interrupt holds nothing, and one that runs after its sampler
// stopped finds no entry and returns. Its mutex is held for a lookup, never across a system call.
class Registry {
 public:
  uintptr_t Add(const std::shared_ptr<State>& s) {
    std::lock_guard<std::mutex> lock(mu_);
    uintptr_t id = next_++;
    states_.emplace(id, s);
    return id;
  }
  void Remove(uintptr_t id) {
    std::shared_ptr<State> gone;  // released after the lock: its destructor may take time
    std::lock_guard<std::mutex> lock(mu_);
    auto found = states_.find(id);
    if (found == states_.end()) return;
    gone.swap(found->second);
    states_.erase(found);
  }
  std::shared_ptr<State> Find(uintptr_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto found = states_.find(id);
    return found == states_.end() ? nullptr : found->second;
  }
  std::vector<std::shared_ptr<State>> All() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::shared_ptr<State>> all;
    for (auto& [id, s] : states_) all.push_back(s);
    return all;
  }

 private:
  std::mutex mu_;
  std::unordered_map<uintptr_t, std::shared_ptr<State>> states_;
  uintptr_t next_ = 1;
};

// Never destroyed: exit() runs static destructors, and an atexit handler or a late interrupt may still
// look here.
Registry& Samplers() {
  static Registry* registry = new Registry();
  return *registry;
}

// exit() (process.exit, an uncaught exception) ends the process without the environment's teardown, so
// without the cleanup hook; the 'exit' listener in JavaScript stops the sampler first, unless the app
// removed it or exited past it (process.reallyExit). This handler, run by exit() itself before static
// destructors, stops every ticker still running, so that none asks a dying isolate for an interrupt or
// reads /proc while the C++ runtime is being torn down. It does not free: the process is ending, and the
// JavaScript thread may be anywhere. Bounded: a ticker that does not answer within 100 ms is left.
void StopTickersAtExit() {
  for (auto& s : Samplers().All()) s->StopTicker(std::chrono::milliseconds(100));
}

void PushTicks(std::vector<double>& to, double lastTs, uint32_t n, int64_t intervalUs) {
  for (uint32_t i = 0; i < n; i++) to.push_back(lastTs - static_cast<double>(i) * static_cast<double>(intervalUs));
}

// The current request's context, or an empty handle.
Local<Value> CurrentContext(State* s, Isolate* isolate, Local<Context> context) {
  if (!s->slot.IsEmpty()) {
    Local<Value> v;
    if (s->slot.Get(isolate)->Get(context, 0).ToLocal(&v) && v->IsObject()) return v;
    return Local<Value>();
  }
#if NODE_MAJOR_VERSION >= 22
  if (!s->key.IsEmpty()) {
    Local<Value> frame = isolate->GetContinuationPreservedEmbedderData();
    if (frame.IsEmpty() || !frame->IsMap()) return Local<Value>();
    // AsArray copies the (small) frame without running JavaScript, which Map::Get would.
    Local<Array> pairs = frame.As<Map>()->AsArray();
    Local<Value> key = s->key.Get(isolate);
    uint32_t n = pairs->Length();
    for (uint32_t i = 0; i + 1 < n; i += 2) {
      Local<Value> k;
      if (!pairs->Get(context, i).ToLocal(&k)) return Local<Value>();
      if (!k->StrictEquals(key)) continue;
      Local<Value> v;
      if (pairs->Get(context, i + 1).ToLocal(&v) && v->IsObject()) return v;
      return Local<Value>();
    }
  }
#endif
  return Local<Value>();
}

// Writes one element of an array the addon made, as an own data property: never through a setter an app
// may have put on Array.prototype or Object.prototype (Set would call it, running the app's JavaScript
// inside the interrupt, and abort the process on the exception it throws). False when V8 refused
// (execution terminating, out of memory): the caller gives the sample up.
bool Put(Local<Context> context, Local<Array> array, uint32_t index, Local<Value> value) {
  return array->CreateDataProperty(context, index, value).FromMaybe(false);
}

constexpr uint32_t kFrameFailed = UINT32_MAX - 1;

// The frame's id, kNoFrame past the table's limit, or kFrameFailed when its entry could not be written.
uint32_t FrameId(State* s, Isolate* isolate, Local<Context> context, Local<StackFrame> frame) {
  // One position lookup (GetLineNumber and GetColumn would each do it).
  v8::Location location = frame->GetLocation();
  FrameKey key{frame->GetScriptId(), location.GetLineNumber() + 1, location.GetColumnNumber() + 1};
  auto found = s->frameIds.find(key);
  if (found != s->frameIds.end()) return found->second;
  if (s->frameIds.size() >= kMaxFrameIds) return kNoFrame;
  Local<Array> frames = s->newFrames.Get(isolate);
  Local<String> name = frame->GetFunctionName();
  Local<String> script = frame->GetScriptNameOrSourceURL();
  uint32_t at = s->newFrameCount * 4;
  // The id is taken only once all four entries are in: a partial entry is overwritten by the next new
  // frame, or left as an incomplete tail that the reader skips (it reads whole groups of four).
  if (!Put(context, frames, at, name.IsEmpty() ? String::Empty(isolate) : name) ||
      !Put(context, frames, at + 1, script.IsEmpty() ? String::Empty(isolate) : script) ||
      !Put(context, frames, at + 2, Integer::New(isolate, key.line)) ||
      !Put(context, frames, at + 3, Integer::New(isolate, key.column))) {
    return kFrameFailed;
  }
  uint32_t id = static_cast<uint32_t>(s->frameIds.size());
  s->frameIds.emplace(key, id);
  s->newFrameCount++;
  return id;
}

void OnInterrupt(Isolate* isolate, void* data) {
  // Gone when its sampler stopped after asking (the id is never reused).
  std::shared_ptr<State> held = Samplers().Find(reinterpret_cast<uintptr_t>(data));
  if (!held) return;
  State* s = held.get();
  double ts = s->NowUs();
  uint32_t weight;
  uint32_t native;
  {
    std::lock_guard<std::mutex> lock(s->mu);
    s->pending = false;
    if (!s->running) return;
    weight = (s->owed ? 1 : 0) + s->busyOwed;
    // The requesting tick too was native work if JavaScript took over half an interval to answer it.
    native = s->busyOwed + (s->owed && ts - s->requestTs > static_cast<double>(s->intervalUs) / 2 ? 1 : 0);
    s->owed = false;
    s->busyOwed = 0;
  }
  int64_t cpu = CpuNs(CLOCK_THREAD_CPUTIME_ID);
  double cpuUs = static_cast<double>(cpu - s->lastCpuNs) / 1000.0;
  s->lastCpuNs = cpu;
  // The thread went idle after the request: that tick was counted idle by the ticker.
  if (weight == 0) return;

  HandleScope scope(isolate);
  // Nothing here should throw; if V8 does (out of memory), the exception must not surface in whatever
  // app code the interrupt landed in. A termination is rethrown by V8 itself when this scope ends.
  v8::TryCatch tryCatch(isolate);
  Local<Context> context = isolate->GetCurrentContext();
  Local<Value> current = context.IsEmpty() ? Local<Value>() : CurrentContext(s, isolate, context);
  if (current.IsEmpty()) {
    // Code no session follows: only the time matters.
    std::lock_guard<std::mutex> lock(s->mu);
    PushTicks(s->busy, ts, weight, s->intervalUs);
    return;
  }
  if (s->samples.size() >= kMaxSamples) {
    s->dropped += weight;
    return;
  }
  Local<StackTrace> trace = StackTrace::CurrentStackTrace(
      isolate, kMaxFrames,
      static_cast<StackTrace::StackTraceOptions>(StackTrace::kLineNumber | StackTrace::kColumnOffset | StackTrace::kScriptId |
                                                 StackTrace::kFunctionName | StackTrace::kScriptNameOrSourceURL));
  int n = trace->GetFrameCount();
  Sample sample;
  sample.ts = ts;
  sample.weight = weight;
  sample.cpuUs = std::max(0.0, std::min(cpuUs, static_cast<double>(weight) * static_cast<double>(s->intervalUs)));
  sample.context = s->contextCount;
  sample.stackStart = static_cast<double>(s->stacks.size());
  size_t stackStart = s->stacks.size();
  for (int i = 0; i < n; i++) {
    uint32_t id = FrameId(s, isolate, context, trace->GetFrame(isolate, i));
    if (id == kFrameFailed) {
      s->stacks.resize(stackStart);
      s->dropped += weight;
      return;
    }
    if (id != kNoFrame) s->stacks.push_back(id);
  }
  sample.stackLen = static_cast<double>(s->stacks.size()) - sample.stackStart;
  sample.native = native;
  if (!Put(context, s->contexts.Get(isolate), s->contextCount, current)) {
    s->stacks.resize(stackStart);
    s->dropped += weight;
    return;
  }
  s->contextCount++;
  s->samples.push_back(sample);
}

// Whether a tick whose interrupt is still unanswered was busy time (native code, GC, a synchronous system
// call: owed to the stack JavaScript resumes in) or idle. Running, or waiting for a CPU (a loaded machine,
// a container at its CPU limit), is busy whatever the CPU clock says; asleep in the event loop's wait is
// idle; asleep elsewhere is busy, as a Python thread blocked in a read is charged to the frame that
// called it. Where the kernel's answer is missing or ambiguous, the thread's CPU time over the tick
// decides (asleep but mostly on the CPU: the garbage collector's main thread waiting for its helpers).
bool IsBusy(ThreadState state, bool mostlyOnCpu) {
  switch (state) {
    case ThreadState::kRunning:
    case ThreadState::kBlocked:
      return true;
    case ThreadState::kAwaitingEvents:
      return false;
    default:
      return mostlyOnCpu;
  }
}

// Asks the scheduler for a short slice for the calling thread (Linux 6.12+, EEVDF: a SCHED_OTHER thread
// may set its own slice through sched_runtime, no privilege needed). Where the ticker and the JavaScript
// thread share one CPU (a pod pinned to one core, a one-CPU VM), the default slice lets the JavaScript
// thread run on until it sleeps before the woken ticker gets the CPU, so the ticker finds it in the
// event loop's wait and never running: requests' own time went unseen. With a short slice the ticker
// preempts on waking. Older kernels reject or ignore the request; nothing else changes. A seccomp profile
// that answers sched_getattr/sched_setattr with an error is the same: the default slice stays (one that
// kills on them cannot be survived; see README.md). Returns 0, an errno, or kNotAsked.
int AskForShortSlice() {
  // struct sched_attr as of Linux 3.14 (SCHED_ATTR_SIZE_VER0), declared here to need no kernel headers.
  struct {
    uint32_t size;
    uint32_t policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime;
    uint64_t deadline;
    uint64_t period;
  } attr{};
#if defined(SYS_sched_getattr) && defined(SYS_sched_setattr)
  if (syscall(SYS_sched_getattr, 0, &attr, sizeof(attr), 0) != 0) return errno;
  if (attr.policy != SCHED_OTHER) return kNotAsked;  // a real-time or batch policy someone chose stays
  attr.size = sizeof(attr);
  attr.flags = 0;
  attr.runtime = 100 * 1000;  // ns: the shortest slice the kernel accepts
  if (syscall(SYS_sched_setattr, 0, &attr, 0) != 0) return errno;
  return 0;
#else
  return kNotAsked;
#endif
}

// Asks the kernel to wake the calling thread when its timer is due, not up to 50 µs later (the default
// timer slack, within which Linux fires a timer with whatever other timer expires first). With the slack
// the ticker woke with the event loop's own timers, at the instant the JavaScript thread left its wait:
// the interrupt then ran first in Node's timer dispatch, outside any request, and ticks fell at the
// edges of the app's work instead of across it. Measured on one CPU shared with JavaScript
// (test/bench/agent/sampler-ticks.mjs): ticks with a request's stack 27–40 a second where timing the
// request's code said 60–64; with no slack 72–86 where it said 60–78. Refused (a seccomp profile that
// answers prctl with an error), the default slack stays. Returns 0, an errno, or kNotAsked.
int AskForExactWakeups() {
#ifdef PR_SET_TIMERSLACK
  // 1 ns: the smallest; 0 would mean "the default"
  return prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL) == 0 ? 0 : errno;
#else
  return kNotAsked;
#endif
}

// The time to the next tick: the interval ± a quarter, uniformly (xorshift64; the mean stays the interval,
// so a tick still stands for one interval). A ticker on an exact period locks its phase to an app's own
// periodic work (libuv's timers run on whole milliseconds) and samples the same moment of it run after
// run, a bias of unknown sign per process; perf's users pick 99 Hz for the same reason. Measured with
// test/bench/agent/sampler-ticks.mjs, six servers per runtime, stacks over the ticks the timed request
// code spans: Node 20 0.78–1.13 on an exact period, 0.82–1.00 with the jitter; Node 24 0.91–1.19, 0.90–1.08.
class TickJitter {
 public:
  explicit TickJitter(int64_t intervalUs)
      : intervalUs_(intervalUs), state_(0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())) {}
  std::chrono::microseconds Next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    int64_t spread = intervalUs_ / 2;
    int64_t offset = spread > 0 ? static_cast<int64_t>(state_ % static_cast<uint64_t>(spread + 1)) - spread / 2 : 0;
    return std::chrono::microseconds(intervalUs_ + offset);
  }

 private:
  int64_t intervalUs_;
  uint64_t state_;
};

// The ticker thread. Every system call of a tick (the CPU clock, /proc, RequestInterrupt, the sleep) is
// made holding no lock the JavaScript thread takes in its interrupt: a /proc read can take milliseconds
// on a loaded machine, and RequestInterrupt takes V8's own locks; under `mu` the JavaScript thread would
// wait for them inside the app's code. Deciding a tick under `mu` and asking for the interrupt after is
// safe: stop() joins this thread before the isolate can go, and a stop between the two leaves an
// interrupt that finds no sampler by its id.
void Ticker(std::shared_ptr<State> s) {
  s->shortSlice = AskForShortSlice();
  s->exactWakeups = AskForExactWakeups();
  using Clock = std::chrono::steady_clock;
  TickJitter jitter(s->intervalUs);
  auto next = Clock::now() + jitter.Next();
  auto lastWall = Clock::now();
  int64_t lastCpu = CpuNs(s->jsCpuClock);
  void* interruptData = reinterpret_cast<void*>(s->id);
  for (;;) {
    {
      std::unique_lock<std::mutex> sleep(s->wakeMu);
      s->wake.wait_until(sleep, next, [&] { return !s->running; });
    }
    if (!s->running) break;
    auto now = Clock::now();
    auto step = jitter.Next();
    next += step;
    if (next <= now) next = now + step;  // after a stall, go on from now rather than catch up in a burst
    int64_t cpu = CpuNs(s->jsCpuClock);
    int64_t wallNs = std::chrono::duration_cast<std::chrono::nanoseconds>(now - lastWall).count();
    bool mostlyOnCpu = (cpu - lastCpu) * 2 >= wallNs;
    lastCpu = cpu;
    lastWall = now;
    ThreadState state = s->threadState.Read();
    double ts = s->NowUs();
    bool request = false;
    {
      std::lock_guard<std::mutex> lock(s->mu);
      if (!s->pending && state == ThreadState::kAwaitingEvents) {
        // Waiting for the event loop's next event: the tick is idle, and an interrupt now would run at the
        // start of whatever JavaScript comes next, charging that code with the wait.
        s->idle.push_back(ts);
      } else if (!s->pending) {
        s->pending = true;
        s->owed = true;
        s->busyOwed = 0;
        s->requestTs = ts;
        s->requestBusy = state == ThreadState::kRunning || state == ThreadState::kBlocked;
        s->idleRun = 0;
        request = true;
      } else if (IsBusy(state, mostlyOnCpu)) {
        s->busyOwed++;
        s->idleRun = 0;
      } else {
        s->idle.push_back(ts);
        s->idleRun++;
        // The requesting tick found the thread on its way to sleep (the kernel did not say it was running
        // or blocked then): it was idle too, unless busy ticks came between, whenever JavaScript answers.
        if (s->owed && !s->requestBusy && s->busyOwed == 0) {
          s->idle.push_back(s->requestTs);
          s->owed = false;
        }
        // Asleep in the event loop's wait by the kernel's word, or two idle ticks in a row without it (one
        // can be a pause inside native work: the garbage collector's main thread waiting for its helpers):
        // what was owed can no longer be put on a stack; the requesting tick and the busy ticks were busy
        // time of no one.
        if (state == ThreadState::kAwaitingEvents || s->idleRun >= 2) {
          if (s->owed) s->busy.push_back(s->requestTs);
          PushTicks(s->busy, ts - static_cast<double>(s->idleRun) * static_cast<double>(s->intervalUs), s->busyOwed, s->intervalUs);
          s->owed = false;
          s->busyOwed = 0;
        }
      }
    }
    if (request) s->isolate->RequestInterrupt(OnInterrupt, interruptData);
  }
  std::lock_guard<std::mutex> sleep(s->wakeMu);
  s->tickerDone = true;
  s->wake.notify_all();
}

Local<Value> CopyDoubles(Isolate* isolate, const double* data, size_t n) {
  std::shared_ptr<v8::BackingStore> store = ArrayBuffer::NewBackingStore(isolate, n * sizeof(double));
  if (n > 0) std::memcpy(store->Data(), data, n * sizeof(double));
  return Float64Array::New(ArrayBuffer::New(isolate, store), 0, n);
}

// The JavaScript object `InterruptSampler`, holding a Sampler in its internal field. Not node::ObjectWrap:
// since Node 24 its destructor looks the environment up, which a garbage collection's weak callback
// cannot always do (seen aborting a process whose stopped samplers were collected).
class Sampler {
 public:
  static void Init(Local<Object> exports, Local<Context> context) {
    Isolate* isolate = context->GetIsolate();
    Local<FunctionTemplate> tpl = FunctionTemplate::New(isolate, New);
    tpl->SetClassName(String::NewFromUtf8Literal(isolate, "InterruptSampler"));
    tpl->InstanceTemplate()->SetInternalFieldCount(1);
    NODE_SET_PROTOTYPE_METHOD(tpl, "start", Start);
    NODE_SET_PROTOTYPE_METHOD(tpl, "collect", Collect);
    NODE_SET_PROTOTYPE_METHOD(tpl, "stop", Stop);
    NODE_SET_PROTOTYPE_METHOD(tpl, "setup", Setup);
    Local<v8::Function> constructor;
    // An own property, not Set: an app's setter on Object.prototype must not run (nor abort the load).
    if (tpl->GetFunction(context).ToLocal(&constructor)) {
      exports->CreateDataProperty(context, String::NewFromUtf8Literal(isolate, "InterruptSampler"), constructor).FromMaybe(false);
    }
  }

  // Runs from the weak callback once JavaScript let go of the object. A running sampler keeps its object
  // (Start makes the handle strong until Stop), so this finds it stopped; no environment API here.
  ~Sampler() { Halt(); }

 private:
  std::shared_ptr<State> state_;
  std::thread ticker_;
  Global<Object> handle_;

  static Sampler* Unwrap(Local<Object> object) { return static_cast<Sampler*>(object->GetAlignedPointerFromInternalField(0)); }

  static void OnCollected(const v8::WeakCallbackInfo<Sampler>& info) {
    Sampler* self = info.GetParameter();
    self->handle_.Reset();
    delete self;
  }

  void MakeWeak() { handle_.SetWeak(this, OnCollected, v8::WeakCallbackType::kParameter); }

  static void New(const FunctionCallbackInfo<Value>& args) {
    if (!args.IsConstructCall()) {
      args.GetIsolate()->ThrowException(v8::Exception::TypeError(String::NewFromUtf8Literal(args.GetIsolate(), "use new")));
      return;
    }
    auto* self = new Sampler();
    args.This()->SetAlignedPointerInInternalField(0, self);
    self->handle_.Reset(args.GetIsolate(), args.This());
    self->MakeWeak();
    args.GetReturnValue().Set(args.This());
  }

  static void Throw(Isolate* isolate, const char* message) {
    isolate->ThrowException(v8::Exception::Error(String::NewFromUtf8(isolate, message).ToLocalChecked()));
  }

  // start(intervalUs, epochOffsetUs, slotArray | undefined, storeKey | undefined)
  static void Start(const FunctionCallbackInfo<Value>& args) {
    Isolate* isolate = args.GetIsolate();
    Sampler* self = Unwrap(args.This());
    if (self->state_) return Throw(isolate, "sampler already started");
    if (!args[0]->IsNumber() || !args[1]->IsNumber()) return Throw(isolate, "start(intervalUs, epochOffsetUs, slot, key)");
    double interval = args[0].As<Number>()->Value();
    if (!(interval >= 100 && interval <= 10000000)) return Throw(isolate, "intervalUs must be between 100 and 10,000,000");
    auto s = std::make_shared<State>();
    s->isolate = isolate;
    s->intervalUs = static_cast<int64_t>(interval);
    s->epochOffsetUs = args[1].As<Number>()->Value();
    if (pthread_getcpuclockid(pthread_self(), &s->jsCpuClock) != 0) return Throw(isolate, "no CPU clock for the JavaScript thread");
    s->threadState.Open(static_cast<long>(syscall(SYS_gettid)));
    if (args[2]->IsArray()) s->slot.Reset(isolate, args[2].As<Array>());
    if (!args[3]->IsUndefined()) s->key.Reset(isolate, args[3]);
    s->contexts.Reset(isolate, Array::New(isolate));
    s->newFrames.Reset(isolate, Array::New(isolate));
    s->idle.reserve(kTickReserve);
    s->busy.reserve(kTickReserve);
    s->lastCpuNs = CpuNs(CLOCK_THREAD_CPUTIME_ID);
    s->running = true;
    s->id = Samplers().Add(s);
    self->state_ = s;
    // The ticker starts with every signal blocked (a thread inherits its creator's mask), so that none
    // sent to the process is delivered there: not the app's SIGUSR2 or SIGINT handler, not a profiler's
    // SIGPROF, not a SIGPIPE. Node's handlers only forward a signal to the event loop, but a handler that
    // expects the JavaScript thread (V8's own, another profiler's) would run on a thread that has no
    // isolate. Blocked here rather than by the thread itself, so there is no instant when it is not.
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    bool started = true;
    try {
      self->ticker_ = std::thread(Ticker, s);
      // Named so that a look at the process (top -H, /proc/<pid>/task/*/comm) tells it apart; by this
      // thread, so that the name is there when start() returns.
      pthread_setname_np(self->ticker_.native_handle(), "sonde:sampler");
    } catch (...) {
      started = false;
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (!started) {
      Samplers().Remove(s->id);
      self->state_.reset();
      return Throw(isolate, "could not start the sampler thread");
    }
    // The thread must be gone before the isolate is: the environment's teardown stops it. Until stop()
    // the wrapper stays alive whatever JavaScript does with it.
    node::AddEnvironmentCleanupHook(isolate, CleanupHook, self);
    self->handle_.ClearWeak();
  }

  // collect() → { samples, stacks, contexts, frames, idle, busy, dropped }; sampling goes on.
  static void Collect(const FunctionCallbackInfo<Value>& args) {
    Sampler* self = Unwrap(args.This());
    if (!self->state_) return Throw(args.GetIsolate(), "sampler not started");
    Local<Object> batch;
    if (Take(args.GetIsolate(), self->state_.get()).ToLocal(&batch)) args.GetReturnValue().Set(batch);
  }

  // stop() → the last batch; the thread is gone afterwards.
  static void Stop(const FunctionCallbackInfo<Value>& args) {
    Sampler* self = Unwrap(args.This());
    if (!self->state_) return Throw(args.GetIsolate(), "sampler not started");
    std::shared_ptr<State> s = self->state_;
    node::RemoveEnvironmentCleanupHook(args.GetIsolate(), CleanupHook, self);
    self->Halt();
    self->MakeWeak();
    Local<Object> batch;
    if (Take(args.GetIsolate(), s.get()).ToLocal(&batch)) args.GetReturnValue().Set(batch);
    s->contexts.Reset();
    s->newFrames.Reset();
    s->slot.Reset();
    s->key.Reset();
  }

  // setup() → { shortSlice, exactWakeups }: what the kernel answered the ticker's requests for itself (0
  // granted, an errno when refused, -1 not asked), or undefined until the ticker has asked.
  static void Setup(const FunctionCallbackInfo<Value>& args) {
    Isolate* isolate = args.GetIsolate();
    Sampler* self = Unwrap(args.This());
    if (!self->state_) return Throw(isolate, "sampler not started");
    int slice = self->state_->shortSlice;
    int wakeups = self->state_->exactWakeups;
    if (slice == kNotYet || wakeups == kNotYet) return;
    Local<Context> context = isolate->GetCurrentContext();
    Local<Object> out = Object::New(isolate);
    out->CreateDataProperty(context, String::NewFromUtf8Literal(isolate, "shortSlice"), Integer::New(isolate, slice)).FromMaybe(false);
    out->CreateDataProperty(context, String::NewFromUtf8Literal(isolate, "exactWakeups"), Integer::New(isolate, wakeups)).FromMaybe(false);
    args.GetReturnValue().Set(out);
  }

  // The environment's teardown (the process ending normally, a worker ending or terminated): the thread
  // must be gone before the isolate is, and the State freed while the isolate can still free its handles.
  static void CleanupHook(void* arg) { static_cast<Sampler*>(arg)->Halt(); }

  // On the JavaScript thread. After the join no interrupt of this sampler can be requested, and one still
  // pending finds no entry by its id: nothing is left holding the State but this object, which frees it.
  void Halt() {
    if (!state_) return;
    state_->StopTicker(std::chrono::milliseconds(0));
    if (ticker_.joinable()) ticker_.join();
    Samplers().Remove(state_->id);
    state_.reset();
  }

  // The batch since the last collect; empty, with an exception pending, when V8 could not build it (the
  // tick times are then put back, the rest stays for the next collect: nothing is lost).
  static v8::MaybeLocal<Object> Take(Isolate* isolate, State* s) {
    Local<Context> context = isolate->GetCurrentContext();
    // Reserved here, swapped in under the lock: the ticker and the interrupt push without allocating.
    std::vector<double> idle;
    std::vector<double> busy;
    idle.reserve(kTickReserve);
    busy.reserve(kTickReserve);
    {
      std::lock_guard<std::mutex> lock(s->mu);
      idle.swap(s->idle);
      busy.swap(s->busy);
    }
    Local<Object> out = Object::New(isolate);
    // Own data properties: an app's setter on Object.prototype (`samples`, `frames`) must not run.
    auto set = [&](const char* name, Local<Value> value) {
      Local<String> key;
      return String::NewFromUtf8(isolate, name).ToLocal(&key) && out->CreateDataProperty(context, key, value).FromMaybe(false);
    };
    std::shared_ptr<v8::BackingStore> store = ArrayBuffer::NewBackingStore(isolate, s->stacks.size() * sizeof(uint32_t));
    if (!s->stacks.empty()) std::memcpy(store->Data(), s->stacks.data(), s->stacks.size() * sizeof(uint32_t));
    bool built = set("samples", CopyDoubles(isolate, reinterpret_cast<const double*>(s->samples.data()), s->samples.size() * kSampleFields)) &&
                 set("stacks", Uint32Array::New(ArrayBuffer::New(isolate, store), 0, s->stacks.size())) &&
                 set("contexts", s->contexts.Get(isolate)) &&
                 set("frames", s->newFrames.Get(isolate)) &&
                 set("idle", CopyDoubles(isolate, idle.data(), idle.size())) &&
                 set("busy", CopyDoubles(isolate, busy.data(), busy.size())) &&
                 set("dropped", Number::New(isolate, s->dropped));
    if (!built) {
      std::lock_guard<std::mutex> lock(s->mu);
      s->idle.insert(s->idle.begin(), idle.begin(), idle.end());
      s->busy.insert(s->busy.begin(), busy.begin(), busy.end());
      return v8::MaybeLocal<Object>();
    }
    s->samples.clear();
    s->stacks.clear();
    s->contexts.Reset(isolate, Array::New(isolate));
    s->contextCount = 0;
    s->newFrames.Reset(isolate, Array::New(isolate));
    s->newFrameCount = 0;
    s->dropped = 0;
    return out;
  }
};

// statesAlive() → how many samplers' states this process holds (running, or stopped and not yet freed):
// for tests, that teardown frees what it should.
void StatesAlive(const FunctionCallbackInfo<Value>& args) {
  args.GetReturnValue().Set(Number::New(args.GetIsolate(), static_cast<double>(statesAlive.load())));
}

// currentFrame() → the continuation-preserved embedder data (the AsyncContextFrame, where there is one):
// lets the agent check that AsyncLocalStorage puts its stores where the interrupt looks.
void CurrentFrame(const FunctionCallbackInfo<Value>& args) {
#if NODE_MAJOR_VERSION >= 22
  args.GetReturnValue().Set(args.GetIsolate()->GetContinuationPreservedEmbedderData());
#endif
}

static_assert(sizeof(Sample) == kSampleFields * sizeof(double), "samples are copied out as seven doubles each");

}  // namespace sonde

NODE_MODULE_INIT(/* exports, module, context */) {
  sonde::Sampler::Init(exports, context);
  v8::Isolate* isolate = context->GetIsolate();
  // Own data properties rather than NODE_SET_METHOD, whose Set would run an app's Object.prototype setter.
  auto method = [&](const char* name, v8::FunctionCallback callback) {
    v8::Local<v8::Function> fn;
    v8::Local<v8::String> key = v8::String::NewFromUtf8(isolate, name).ToLocalChecked();
    if (!v8::Function::New(context, callback).ToLocal(&fn)) return;
    fn->SetName(key);
    exports->CreateDataProperty(context, key, fn).FromMaybe(false);
  };
  method("currentFrame", sonde::CurrentFrame);
  method("statesAlive", sonde::StatesAlive);
  // Once per process, whichever isolate loads the addon first: exit() runs it on the way out.
  static std::once_flag atExit;
  std::call_once(atExit, [] { std::atexit(sonde::StopTickersAtExit); });
}
