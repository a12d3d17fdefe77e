// CPU ready the tests control: QueryPerf answers cpu.ready.summation from a JSON file the test writes
// (VCSIM_CPU_READY_FILE), read on every query; every other counter keeps the simulator's synthetic data.
//
// The file maps entity names to milliseconds of ready time per 20-second sample, as vCenter reports
// the counter: a number (every sample the same) or a list of samples, oldest first.
//
//	{"hosts": {"esx01.lab.example": 4400}, "vms": {"esx01-vm00": [400, 420, 380]}}
//
// A name the file does not list reads 0 ms. Instance "" is the entity's total; a per-vCPU instance
// ("0", "1", ...) gets the total divided by the entity's vCPU count. Samples come back oldest first
// like vCenter's (the simulator itself returns them newest first).

package main

import (
	"encoding/json"
	"os"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/vpx"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

type readyFile struct {
	Hosts map[string]json.RawMessage `json:"hosts"`
	VMs   map[string]json.RawMessage `json:"vms"`
}

type readyPerformanceManager struct {
	*simulator.PerformanceManager

	path     string
	readyKey int32
}

// PerfMetricIntSeries is vim25's, encoded without omitempty on its values: govmomi's encoder drops the
// zero elements of an omitempty slice, and CPU ready is 0 ms most of the time. Same name, same xsi:type.
type PerfMetricIntSeries struct {
	types.PerfMetricSeries

	Value []int64 `xml:"value"`
}

// Get hands the property collector the simulator's own object (it cannot look through a pointer field).
func (p *readyPerformanceManager) Get() mo.Reference {
	return p.PerformanceManager
}

// readyCounterKey finds cpu.ready.summation in the counters the simulator publishes.
func readyCounterKey(counters []types.PerfCounterInfo) int32 {
	for _, c := range counters {
		if c.GroupInfo.GetElementDescription().Key == "cpu" && c.NameInfo.GetElementDescription().Key == "ready" &&
			c.RollupType == types.PerfSummaryTypeSummation {
			return c.Key
		}
	}
	return -1
}

func installReadyPerformanceManager(path string) {
	base := simulator.Map.Get(*vpx.ServiceContent.PerfManager).(*simulator.PerformanceManager)
	simulator.Map.Put(&readyPerformanceManager{PerformanceManager: base, path: path, readyKey: readyCounterKey(base.PerfCounter)})
}

// samples reads the entity's samples from the file (nil: none given, read as 0 ms).
func (p *readyPerformanceManager) samples(entity types.ManagedObjectReference) []int64 {
	if p.path == "" {
		return nil
	}
	raw, err := os.ReadFile(p.path)
	if err != nil {
		return nil
	}
	var file readyFile
	if json.Unmarshal(raw, &file) != nil {
		return nil
	}
	table := file.VMs
	if entity.Type == "HostSystem" {
		table = file.Hosts
	}
	value, ok := table[entityName(entity)]
	if !ok {
		return nil
	}
	var one int64
	if json.Unmarshal(value, &one) == nil {
		return []int64{one}
	}
	var many []int64
	if json.Unmarshal(value, &many) == nil {
		return many
	}
	return nil
}

func entityName(ref types.ManagedObjectReference) string {
	switch obj := simulator.Map.Get(ref).(type) {
	case *simulator.HostSystem:
		return obj.Name
	case *simulator.VirtualMachine:
		return obj.Name
	}
	return ""
}

func vcpus(ref types.ManagedObjectReference) int64 {
	switch obj := simulator.Map.Get(ref).(type) {
	case *simulator.HostSystem:
		return int64(obj.Hardware.CpuInfo.NumCpuThreads)
	case *simulator.VirtualMachine:
		return int64(obj.Config.Hardware.NumCPU)
	}
	return 1
}

// QueryPerf lets the simulator build the answer, puts it in vCenter's order and replaces CPU ready.
func (p *readyPerformanceManager) QueryPerf(ctx *simulator.Context, req *types.QueryPerf) soap.HasFault {
	body := p.PerformanceManager.QueryPerf(ctx, req).(*methods.QueryPerfBody)
	if body.Fault_ != nil || body.Res == nil {
		return body
	}
	for i, base := range body.Res.Returnval {
		metrics, ok := base.(*types.PerfEntityMetric)
		if !ok {
			continue
		}
		n := len(metrics.SampleInfo)
		for a, b := 0, n-1; a < b; a, b = a+1, b-1 {
			metrics.SampleInfo[a], metrics.SampleInfo[b] = metrics.SampleInfo[b], metrics.SampleInfo[a]
		}
		interval := int64(20)
		if n > 0 && metrics.SampleInfo[0].Interval > 0 {
			interval = int64(metrics.SampleInfo[0].Interval)
		}
		given := p.samples(metrics.Entity)
		for k, value := range metrics.Value {
			series, ok := value.(*types.PerfMetricIntSeries)
			if !ok {
				continue
			}
			if series.Id.CounterId != p.readyKey {
				for a, b := 0, len(series.Value)-1; a < b; a, b = a+1, b-1 {
					series.Value[a], series.Value[b] = series.Value[b], series.Value[a]
				}
				continue
			}
			ready := &PerfMetricIntSeries{PerfMetricSeries: series.PerfMetricSeries, Value: readySeries(given, n, interval)}
			if series.Id.Instance != "" {
				for j := range ready.Value {
					ready.Value[j] /= vcpus(metrics.Entity)
				}
			}
			metrics.Value[k] = ready
		}
		body.Res.Returnval[i] = metrics
	}
	return body
}

// readySeries gives n samples, oldest first: the newest n of the given ones (a single value repeats),
// scaled from 20-second samples to the interval asked for.
func readySeries(given []int64, n int, interval int64) []int64 {
	out := make([]int64, n)
	if len(given) == 0 {
		return out
	}
	for j := 0; j < n; j++ {
		k := len(given) - n + j
		if k < 0 {
			k = 0
		}
		if len(given) == 1 {
			k = 0
		}
		out[j] = given[k] * interval / 20
	}
	return out
}
