// The VMs of each host, made through the API like a real client would: a paravirtual SCSI controller
// with a thin disk, an LSI Logic SAS controller with a thick disk on every other VM, an IDE CD-ROM, one
// vmxnet3 NIC (on the standard "VM Network" or the distributed port group, alternately) with a MAC of
// its own (the simulator derives MACs that repeat between VMs), memory with a reservation on some, and
// VMware Tools running on the powered-on ones.

package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

type machine struct {
	Name string `json:"name"`
	Host string `json:"host"`
	MAC  string `json:"mac"`
	CPUs int32  `json:"cpus"`
	On   bool   `json:"poweredOn"`
}

func createMachines(ctx context.Context, u *url.URL, hosts []*simulator.HostSystem, perHost int) ([]machine, error) {
	client, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		return nil, err
	}
	defer func() { _ = client.Logout(ctx) }()
	finder := find.NewFinder(client.Client, false)
	dc, err := finder.DefaultDatacenter(ctx)
	if err != nil {
		return nil, err
	}
	finder.SetDatacenter(dc)
	folders, err := dc.Folders(ctx)
	if err != nil {
		return nil, err
	}
	pool, err := finder.ResourcePool(ctx, "DC0_C0/Resources")
	if err != nil {
		return nil, err
	}
	ds, err := finder.Datastore(ctx, "LocalDS_0")
	if err != nil {
		return nil, err
	}
	var backings []types.BaseVirtualDeviceBackingInfo
	for _, name := range []string{"VM Network", "DC0_DVPG0"} {
		network, err := finder.Network(ctx, name)
		if err != nil {
			return nil, err
		}
		backing, err := network.EthernetCardBackingInfo(ctx)
		if err != nil {
			return nil, err
		}
		backings = append(backings, backing)
	}

	var made []machine
	for h, host := range hosts {
		short := strings.SplitN(host.Name, ".", 2)[0]
		for i := 0; i < perHost; i++ {
			m := machine{
				Name: fmt.Sprintf("%s-vm%02d", short, i),
				Host: host.Name,
				MAC:  fmt.Sprintf("00:50:56:a1:%02x:%02x", h+1, i+1),
				CPUs: int32(2 + 2*(i%2)),
				On:   i < perHost-1,
			}
			spec := machineSpec(m, i, ds.Reference(), backings[i%2])
			task, err := folders.VmFolder.CreateVM(ctx, spec, pool, object.NewHostSystem(client.Client, host.Reference()))
			if err != nil {
				return nil, err
			}
			info, err := task.WaitForResult(ctx, nil)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", m.Name, err)
			}
			ref := info.Result.(types.ManagedObjectReference)
			if m.On {
				vm := object.NewVirtualMachine(client.Client, ref)
				powerOn, err := vm.PowerOn(ctx)
				if err == nil {
					err = powerOn.Wait(ctx)
				}
				if err != nil {
					return nil, fmt.Errorf("%s: power on: %w", m.Name, err)
				}
			}
			setTools(ref, m.On)
			made = append(made, m)
		}
	}
	return made, nil
}

func machineSpec(m machine, i int, ds types.ManagedObjectReference, backing types.BaseVirtualDeviceBackingInfo) types.VirtualMachineConfigSpec {
	guests := []string{"windows2019srv_64Guest", "rhel8_64Guest"}
	memory := int64(2048 * (1 + i%2))
	spec := types.VirtualMachineConfigSpec{
		Name:     m.Name,
		GuestId:  guests[i%2],
		NumCPUs:  m.CPUs,
		MemoryMB: memory,
		Files:    &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"},
		MemoryAllocation: &types.ResourceAllocationInfo{
			Reservation: types.NewInt64(int64(1024 * (i % 2))),
			Limit:       types.NewInt64(-1),
		},
	}

	var devices object.VirtualDeviceList
	pvscsi, _ := devices.CreateSCSIController("pvscsi")
	devices = append(devices, pvscsi)
	system := devices.CreateDisk(pvscsi.(types.BaseVirtualController), ds, fmt.Sprintf("[LocalDS_0] %s/%s.vmdk", m.Name, m.Name))
	system.CapacityInKB = 40 * 1024 * 1024
	devices = append(devices, system)
	if i%2 == 1 {
		sas, _ := devices.CreateSCSIController("lsilogic-sas")
		devices = append(devices, sas)
		data := devices.CreateDisk(sas.(types.BaseVirtualController), ds, fmt.Sprintf("[LocalDS_0] %s/%s_1.vmdk", m.Name, m.Name))
		data.CapacityInKB = 100 * 1024 * 1024
		flat := data.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
		flat.ThinProvisioned = types.NewBool(false)
		flat.EagerlyScrub = types.NewBool(true)
		devices = append(devices, data)
	}
	ide, _ := devices.CreateIDEController()
	devices = append(devices, ide)
	cdrom, _ := devices.CreateCdrom(ide.(*types.VirtualIDEController))
	devices = append(devices, cdrom)
	nic, _ := devices.CreateEthernetCard("vmxnet3", backing)
	card := nic.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
	card.MacAddress = m.MAC
	card.AddressType = string(types.VirtualEthernetCardMacTypeAssigned)
	if i%2 == 1 {
		card.AddressType = string(types.VirtualEthernetCardMacTypeManual)
	}
	devices = append(devices, nic)
	spec.DeviceChange, _ = devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	return spec
}

// setTools reports VMware Tools as a real guest would: running and current while the VM is on.
func setTools(ref types.ManagedObjectReference, on bool) {
	vm := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	simulator.Map.WithLock(vm, func() {
		vm.Guest.ToolsVersionStatus2 = string(types.VirtualMachineToolsVersionStatusGuestToolsCurrent)
		vm.Guest.ToolsVersion = "11365"
		vm.Guest.GuestFullName = vm.Config.GuestFullName
		vm.Guest.ToolsStatus = types.VirtualMachineToolsStatusToolsOk
		vm.Guest.ToolsRunningStatus = string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)
		if !on {
			vm.Guest.ToolsStatus = types.VirtualMachineToolsStatusToolsNotRunning
			vm.Guest.ToolsRunningStatus = string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning)
		}
	})
}
