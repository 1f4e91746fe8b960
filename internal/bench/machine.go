package bench

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where a benchmark ran.
type Machine struct {
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model,omitempty"`
	OS         string `json:"os"`
	GoVersion  string `json:"go_version"`
	Redis      string `json:"redis_version,omitempty"`
	PostgreSQL string `json:"postgresql_version,omitempty"`
	// LocalRedis is true when Redis runs on this machine and so shares its
	// CPUs with MUTT and the load generator.
	LocalRedis bool `json:"local_redis"`
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or "" where
// there is none.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func newMachine() Machine {
	return Machine{
		CPUs: runtime.NumCPU(), CPUModel: cpuModel(),
		OS: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version(),
	}
}

// cpuSample is the CPU time used so far by this process and by the whole
// machine. Machine figures are zero where /proc/stat cannot be read.
type cpuSample struct {
	at          time.Time
	process     time.Duration
	postgres    time.Duration
	machineBusy time.Duration
	machineAll  time.Duration
}

func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now(), process: processCPU(), postgres: commandCPU("postgres")}
	s.machineBusy, s.machineAll = machineCPU()
	return s
}

// commandCPU sums the CPU time of this machine's processes named comm, as
// far as /proc shows them. A process that exits in between takes its time
// with it, so a difference of two samples is a lower bound.
func commandCPU(comm string) time.Duration {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, d := range dirs {
		if d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		if name, t, ok := parsePidStat(string(b)); ok && name == comm {
			ticks += t
		}
	}
	return time.Duration(ticks) * (time.Second / clockTicks)
}

// parsePidStat reads the command name and utime + stime (fields 14 and 15)
// of a /proc/<pid>/stat line; the name is in parentheses and may itself
// contain spaces and parentheses.
func parsePidStat(line string) (string, int64, bool) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return "", 0, false
	}
	rest := strings.Fields(line[end+1:])
	// rest[0] is field 3 (state), so utime (field 14) is rest[11].
	if len(rest) < 13 {
		return "", 0, false
	}
	u, err1 := strconv.ParseInt(rest[11], 10, 64)
	s, err2 := strconv.ParseInt(rest[12], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, false
	}
	return line[open+1 : end], u + s, true
}

// machineCPU reads the first line of /proc/stat: busy time (everything but
// idle and iowait) and total time, summed over all CPUs.
func machineCPU() (busy, total time.Duration) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0
	}
	return parseProcStat(sc.Text())
}

// clockTicks is USER_HZ, the unit of /proc/stat; it is 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// parseProcStat reads a "cpu  user nice system idle iowait irq softirq
// steal …" line. Guest time is already included in user and nice.
func parseProcStat(line string) (busy, total time.Duration) {
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0
	}
	var sum, idle int64
	for i, f := range fields[1:] {
		if i >= 8 { // guest and guest_nice are counted in user and nice
			break
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, 0
		}
		sum += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	tick := time.Second / clockTicks
	return time.Duration(sum-idle) * tick, time.Duration(sum) * tick
}
