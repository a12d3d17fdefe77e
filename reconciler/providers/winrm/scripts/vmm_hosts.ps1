# Hosts as VMM sees them: in maintenance mode or not, and whether VMM reaches them. $Data.operation: read
# ($Data.names), maintenance ($Data.id, $Data.on): Disable-SCVMHost moving the running VMs to the cluster's other
# hosts by live migration, or Enable-SCVMHost. Writes print Write-RcResult.
param($Data)
# include: _vmm

function Read-RcHosts {
    $hosts = @(Get-SCVMHost | Where-Object { Test-RcWanted $_.Name } | ForEach-Object {
            [pscustomobject]@{
                ID                     = [string]$_.ID
                Name                   = $_.Name
                ComputerName           = $_.ComputerName
                VMHostGroup            = $_.VMHostGroup.Path
                HostCluster            = $_.HostCluster.Name
                MaintenanceHost        = ([bool]$_.MaintenanceHost -or [string]$_.OverallState -like '*Maintenance*')
                CommunicationState     = [string]$_.CommunicationState
                OverallState           = [string]$_.OverallState
                VirtualizationPlatform = [string]$_.VirtualizationPlatform
            }
        })
    [pscustomobject]@{ hosts = $hosts }
}

function Set-RcMaintenance {
    $vmHost = Assert-RcFound (Find-RcObject (Get-SCVMHost) $Data.id $null) 'host' $Data.id
    if ([bool]$Data.on) {
        if ($vmHost.HostCluster) { $null = Disable-SCVMHost -VMHost $vmHost -MoveWithinCluster -RunAsynchronously -JobVariable 'job' }
        else {
            $running = @(Get-SCVirtualMachine -VMHost $vmHost | Where-Object { [string]$_.VirtualMachineState -eq 'Running' })
            if ($running.Count -gt 0) {
                Write-Error -Message "host '$($vmHost.Name)' is not in a cluster: VMM would save the state of its $($running.Count) running VMs instead of moving them" -Category InvalidOperation -ErrorAction Stop
            }
            $null = Disable-SCVMHost -VMHost $vmHost -RunAsynchronously -JobVariable 'job'
        }
    }
    else { $null = Enable-SCVMHost -VMHost $vmHost -RunAsynchronously -JobVariable 'job' }
    Add-RcJob $job
    Write-RcResult $vmHost
}

switch ($Data.operation) {
    'read' { Read-RcHosts }
    'maintenance' { Set-RcMaintenance }
    default { Stop-RcUnknown 'operation' }
}
