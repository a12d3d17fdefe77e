# Virtual machines: their memory, power state, host, cloud and resume mark (the ReconcilerResume custom
# property). $Data.operation: read ($Data.names), set_memory, stop, start, refresh, mark ($Data.resume; empty
# clears it); every write names the VM by its VMM ID ($Data.id) and prints Write-RcResult.
param($Data)
# include: _vmm

$resumeName = 'ReconcilerResume'

function Get-RcResumeProperty {
    Get-SCCustomProperty | Where-Object { $_.Name -eq $resumeName } | Select-Object -First 1
}

function Read-RcVms {
    $resume = Get-RcResumeProperty
    $vms = @(Get-SCVirtualMachine -All | Where-Object { Test-RcWanted $_.Name } | ForEach-Object {
            $vm = $_
            $mark = $null
            if ($resume) {
                $value = Get-SCCustomPropertyValue -InputObject $vm -CustomProperty $resume
                if ($value) { $mark = [string]$value.Value }
            }
            [pscustomobject]@{
                ID                            = [string]$vm.ID
                VMId                          = [string]$vm.VMId
                Name                          = $vm.Name
                Memory                        = $vm.Memory
                DynamicMemoryEnabled          = [bool]$vm.DynamicMemoryEnabled
                DynamicMemoryMinimumMB        = $vm.DynamicMemoryMinimumMB
                DynamicMemoryMaximumMB        = $vm.DynamicMemoryMaximumMB
                DynamicMemoryBufferPercentage = $vm.DynamicMemoryBufferPercentage
                MemoryWeight                  = $vm.MemoryWeight
                VirtualMachineState           = [string]$vm.VirtualMachineState
                VMHost                        = $vm.VMHost.Name
                Cloud                         = $vm.Cloud.Name
                Resume                        = $mark
            }
        })
    [pscustomobject]@{ vms = $vms }
}

function Get-RcVm {
    Assert-RcFound (Find-RcObject (Get-SCVirtualMachine -All) $Data.id $null) 'virtual machine' $Data.id
}

function Set-RcMemory {
    $vm = Get-RcVm
    $params = @{ VM = $vm; RunAsynchronously = $true; JobVariable = 'job' }
    $names = @($Data.PSObject.Properties | ForEach-Object { $_.Name })
    if ($names -contains 'dynamic') { $params.DynamicMemoryEnabled = [bool]$Data.dynamic }
    if ($names -contains 'startupMB') { $params.MemoryMB = [int]$Data.startupMB }
    if ($names -contains 'minimumMB') { $params.DynamicMemoryMinimumMB = [int]$Data.minimumMB }
    if ($names -contains 'maximumMB') { $params.DynamicMemoryMaximumMB = [int]$Data.maximumMB }
    if ($names -contains 'bufferPercent') { $params.DynamicMemoryBufferPercentage = [int]$Data.bufferPercent }
    if ($names -contains 'weight') { $params.MemoryWeight = [int]$Data.weight }
    $vm = Set-SCVirtualMachine @params
    Add-RcJob $job
    Write-RcResult $vm
}

function Set-RcPower([string]$Action) {
    $vm = Get-RcVm
    if ($Action -eq 'stop') { $vm = Stop-SCVirtualMachine -VM $vm -Shutdown -RunAsynchronously -JobVariable 'job' }
    else { $vm = Start-SCVirtualMachine -VM $vm -RunAsynchronously -JobVariable 'job' }
    Add-RcJob $job
    Write-RcResult $vm
}

function Set-RcResume {
    $vm = Get-RcVm
    $resume = Get-RcResumeProperty
    if ([string]$Data.resume) {
        if (-not $resume) {
            $resume = New-SCCustomProperty -Name $resumeName -Description 'reconciler: a VM it stopped to change its memory, to start again' -AddMember 'VM'
        }
        $null = Set-SCCustomPropertyValue -InputObject $vm -CustomProperty $resume -Value ([string]$Data.resume)
    }
    elseif ($resume) {
        $value = Get-SCCustomPropertyValue -InputObject $vm -CustomProperty $resume
        if ($value) { $null = Remove-SCCustomPropertyValue -CustomPropertyValue $value }
    }
    Write-RcResult $vm
}

switch ($Data.operation) {
    'read' { Read-RcVms }
    'set_memory' { Set-RcMemory }
    'stop' { Set-RcPower 'stop' }
    'start' { Set-RcPower 'start' }
    'refresh' { $vm = Read-SCVirtualMachine -VM (Get-RcVm); Write-RcResult $vm }
    'mark' { Set-RcResume }
    default { Stop-RcUnknown 'operation' }
}
