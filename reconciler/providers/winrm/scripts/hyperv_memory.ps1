# Runs on a Hyper-V host: a VM's memory settings through WMI (root\virtualization\v2), for what VMM cannot set.
# Msvm_MemorySettingData holds VirtualQuantity (startup: what the guest sees at boot), Reservation (minimum) and
# Limit (maximum), in MB. $Data.vmId is the VM's Hyper-V ID (Msvm_ComputerSystem.Name). $Data.operation: read,
# or set ($Data.startupMB, $Data.minimumMB, $Data.maximumMB) through ModifyResourceSettings, waiting for its job.
param($Data)
$namespace = 'root\virtualization\v2'

function Get-RcMemorySetting {
    $vm = Get-WmiObject -Namespace $namespace -Class Msvm_ComputerSystem | Where-Object { $_.Name -eq [string]$Data.vmId } | Select-Object -First 1
    if (-not $vm) {
        Write-Error -Message "no VM with ID $($Data.vmId) on this host" -Category ObjectNotFound -TargetObject ([string]$Data.vmId) -ErrorAction Stop
    }
    $settings = $vm.GetRelated('Msvm_VirtualSystemSettingData') | Where-Object { $_.VirtualSystemType -eq 'Microsoft:Hyper-V:System:Realized' } | Select-Object -First 1
    $settings.GetRelated('Msvm_MemorySettingData') | Select-Object -First 1
}

function Wait-RcWmiJob($Result) {
    if ($Result.ReturnValue -eq 0) { return }
    if ($Result.ReturnValue -ne 4096) {
        Write-Error -Message "ModifyResourceSettings returned $($Result.ReturnValue)" -Category InvalidResult -ErrorAction Stop
    }
    $job = [wmi]$Result.Job
    while ($job.JobState -eq 3 -or $job.JobState -eq 4) {
        Start-Sleep -Milliseconds 500
        $job = [wmi]$Result.Job
    }
    if ($job.JobState -ne 7) {
        Write-Error -Message "ModifyResourceSettings failed: $($job.ErrorDescription)" -Category InvalidResult -ErrorAction Stop
    }
}

$memory = Get-RcMemorySetting
if ($Data.operation -eq 'set') {
    $memory.DynamicMemoryEnabled = $true
    $memory.VirtualQuantity = [uint64]$Data.startupMB
    $memory.Reservation = [uint64]$Data.minimumMB
    $memory.Limit = [uint64]$Data.maximumMB
    $service = Get-WmiObject -Namespace $namespace -Class Msvm_VirtualSystemManagementService
    Wait-RcWmiJob ($service.ModifyResourceSettings(@($memory.GetText(1))))
    $memory = Get-RcMemorySetting
}
elseif ($Data.operation -ne 'read') {
    Write-Error -Message 'unknown operation' -Category InvalidArgument -ErrorAction Stop
}
[pscustomobject]@{
    VMId                 = [string]$Data.vmId
    DynamicMemoryEnabled = [bool]$memory.DynamicMemoryEnabled
    VirtualQuantity      = [uint64]$memory.VirtualQuantity
    Reservation          = [uint64]$memory.Reservation
    Limit                = [uint64]$memory.Limit
}
