// The host power system govmomi 0.24.2's simulator lacks: ConfigurePowerPolicy on
// host.configManager.powerSystem, changing host.config.powerSystemInfo.currentPolicy like ESXi does.

package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The policies ESXi offers, with the keys and short names the API uses (static = High performance).
var availablePolicies = []types.HostPowerPolicy{
	{Key: 1, Name: "High performance", ShortName: "static", Description: "Do not use any power management features."},
	{Key: 2, Name: "Balanced", ShortName: "dynamic", Description: "Reduce energy consumption with minimal performance compromise"},
	{Key: 3, Name: "Low power", ShortName: "low", Description: "Reduce energy consumption at the risk of lower performance"},
	{Key: 4, Name: "Custom", ShortName: "custom", Description: "User-defined power management policy"},
}

// hostPowerSystem embeds mo.HostPowerSystem first, so the property collector serves capability and info.
type hostPowerSystem struct {
	mo.HostPowerSystem

	host *simulator.HostSystem
}

// ConfigurePowerPolicy sets the host's current policy by key; an unknown key is refused as ESXi does.
func (p *hostPowerSystem) ConfigurePowerPolicy(req *types.ConfigurePowerPolicy) soap.HasFault {
	body := new(methods.ConfigurePowerPolicyBody)
	for _, policy := range p.Capability.AvailablePolicy {
		if policy.Key == req.Key {
			p.Info.CurrentPolicy = policy
			chosen := policy
			simulator.Map.WithLock(p.host, func() {
				p.host.Config.PowerSystemInfo = &types.PowerSystemInfo{CurrentPolicy: chosen}
			})
			body.Res = new(types.ConfigurePowerPolicyResponse)
			return body
		}
	}
	body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "key"})
	return body
}

// installPowerSystems gives every host a power system, starting on the Balanced (dynamic) policy,
// the ESXi default.
func installPowerSystems() {
	for _, obj := range simulator.Map.All("HostSystem") {
		host := simulator.Map.Get(obj.Reference()).(*simulator.HostSystem)
		capability := types.PowerSystemCapability{AvailablePolicy: availablePolicies}
		current := availablePolicies[1]
		system := &hostPowerSystem{host: host}
		system.Self = types.ManagedObjectReference{Type: "HostPowerSystem", Value: "powerSystem-" + host.Self.Value}
		system.Capability = capability
		system.Info = types.PowerSystemInfo{CurrentPolicy: current}
		simulator.Map.Put(system)
		ref := system.Reference()
		host.ConfigManager.PowerSystem = &ref
		host.Config.PowerSystemCapability = &capability
		host.Config.PowerSystemInfo = &types.PowerSystemInfo{CurrentPolicy: current}
	}
}
