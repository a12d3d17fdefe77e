# Logical switches (with an uplink port profile set per uplink port profile and a virtual port per port
# classification), and logical switches deployed on hosts (host virtual switches). $Data.operation: read
# ($Data.kinds, $Data.names: switch names, or HOST/SWITCH for a host's), set_logical_switch, set_host_switch
# (one job group per host), remove ($Data.kind, $Data.id), describe ($Data.id, $Data.description: a logical switch's
# Description alone, for an adoption). Writes print Write-RcResult.
param($Data)
# include: _vmm

function Read-RcSwitches {
    $kinds = @($Data.kinds)
    $out = [ordered]@{}
    if ($kinds -contains 'vmm.logical_switch') {
        $out.logicalSwitches = @(Get-SCLogicalSwitch | Where-Object { Test-RcWanted $_.Name } | ForEach-Object {
                $logicalSwitch = $_
                [pscustomobject]@{
                    ID                  = [string]$logicalSwitch.ID
                    Name                = $logicalSwitch.Name
                    Description         = $logicalSwitch.Description
                    UplinkMode          = [string]$logicalSwitch.UplinkMode
                    EnableSriov         = [bool]$logicalSwitch.EnableSriov
                    UplinkPortProfiles  = @(Get-SCUplinkPortProfileSet -LogicalSwitch $logicalSwitch | ForEach-Object { $_.NativeUplinkPortProfile.Name })
                    PortClassifications = @(Get-SCVirtualNetworkAdapterPortProfileSet -LogicalSwitch $logicalSwitch | ForEach-Object { $_.PortClassification.Name })
                }
            })
    }
    if ($kinds -contains 'vmm.host_switch') {
        $out.hostSwitches = @(Get-SCVMHost | ForEach-Object {
                $vmHost = $_
                Get-SCVirtualNetwork -VMHost $vmHost | Where-Object { $_.LogicalSwitch } | ForEach-Object {
                    [pscustomobject]@{ ID = [string]$_.ID; Name = $_.Name; VMHost = $vmHost.Name; LogicalSwitch = $_.LogicalSwitch.Name }
                }
            } | Where-Object { Test-RcWanted ($_.VMHost + '/' + $_.LogicalSwitch) })
    }
    [pscustomobject]$out
}

function Set-RcLogicalSwitch {
    $uplinks = @(Find-RcNamed (Get-SCNativeUplinkPortProfile) $Data.uplinkPortProfiles 'uplink port profile')
    $classifications = @(Find-RcNamed (Get-SCPortClassification) $Data.portClassifications 'port classification')
    $logicalSwitch = Find-RcObject (Get-SCLogicalSwitch) $Data.id $Data.name
    if ($null -eq $logicalSwitch) {
        $logicalSwitch = New-SCLogicalSwitch -Name ([string]$Data.name) -Description ([string]$Data.description) -EnableSriov ([bool]$Data.sriov) -SwitchUplinkMode ([string]$Data.uplinkMode)
    }
    elseif ($null -ne $Data.description) { $logicalSwitch = Set-SCLogicalSwitch -LogicalSwitch $logicalSwitch -Description ([string]$Data.description) }
    $sets = @(Get-SCUplinkPortProfileSet -LogicalSwitch $logicalSwitch)
    foreach ($uplink in $uplinks) {
        if (-not ($sets | Where-Object { [string]$_.NativeUplinkPortProfile.ID -eq [string]$uplink.ID })) {
            $null = New-SCUplinkPortProfileSet -Name $uplink.Name -LogicalSwitch $logicalSwitch -NativeUplinkPortProfile $uplink -RunAsynchronously -JobVariable 'job'
            Add-RcJob $job
        }
    }
    foreach ($set in $sets) {
        if (@($Data.uplinkPortProfiles) -notcontains $set.NativeUplinkPortProfile.Name) { $null = Remove-SCUplinkPortProfileSet -UplinkPortProfileSet $set }
    }
    $ports = @(Get-SCVirtualNetworkAdapterPortProfileSet -LogicalSwitch $logicalSwitch)
    $portProfiles = @(Get-SCVirtualNetworkAdapterNativePortProfile)
    foreach ($classification in $classifications) {
        if (-not ($ports | Where-Object { [string]$_.PortClassification.ID -eq [string]$classification.ID })) {
            $portProfile = Assert-RcFound (Find-RcObject $portProfiles $null $classification.Name) 'virtual port profile' $classification.Name
            $null = New-SCVirtualNetworkAdapterPortProfileSet -Name $classification.Name -LogicalSwitch $logicalSwitch -PortClassification $classification -VirtualNetworkAdapterNativePortProfile $portProfile
        }
    }
    foreach ($port in $ports) {
        if (@($Data.portClassifications) -notcontains $port.PortClassification.Name) { $null = Remove-SCVirtualNetworkAdapterPortProfileSet -VirtualNetworkAdapterPortProfileSet $port }
    }
    Write-RcResult $logicalSwitch
}

function Set-RcHostSwitch {
    $vmHost = Assert-RcFound (Find-RcObject (Get-SCVMHost) $null $Data.host) 'host' $Data.host
    $logicalSwitch = Assert-RcFound (Find-RcObject (Get-SCLogicalSwitch) $null $Data.logicalSwitch) 'logical switch' $Data.logicalSwitch
    $existing = Get-SCVirtualNetwork -VMHost $vmHost | Where-Object { [string]$_.LogicalSwitch.ID -eq [string]$logicalSwitch.ID } | Select-Object -First 1
    if ($existing) { return Write-RcResult $existing }
    $set = Get-SCUplinkPortProfileSet -LogicalSwitch $logicalSwitch | Select-Object -First 1
    if (-not $set) {
        Write-Error -Message "logical switch '$($logicalSwitch.Name)' has no uplink port profile" -Category InvalidOperation -ErrorAction Stop
    }
    $adapters = @(Get-SCVMHostNetworkAdapter -VMHost $vmHost | Where-Object { -not $_.VirtualNetwork -and -not $_.UsedForManagement -and [string]$_.ConnectionState -eq 'Connected' })
    if ($adapters.Count -eq 0) {
        Write-Error -Message "host '$($vmHost.Name)' has no free connected physical adapter for '$($logicalSwitch.Name)'" -Category InvalidOperation -ErrorAction Stop
    }
    if ([string]$logicalSwitch.UplinkMode -eq 'NoTeam') { $adapters = @($adapters[0]) }
    $group = [guid]::NewGuid()
    foreach ($adapter in $adapters) { $null = Set-SCVMHostNetworkAdapter -VMHostNetworkAdapter $adapter -UplinkPortProfileSet $set -JobGroup $group }
    $null = New-SCVirtualNetwork -VMHost $vmHost -VMHostNetworkAdapters $adapters -LogicalSwitch $logicalSwitch -JobGroup $group
    $null = Set-SCVMHost -VMHost $vmHost -JobGroup $group -RunAsynchronously -JobVariable 'job'
    Add-RcJob $job
    Write-RcResult $null
}

function Remove-RcSwitchObject {
    switch ($Data.kind) {
        'vmm.logical_switch' {
            $found = Find-RcObject (Get-SCLogicalSwitch) $Data.id $Data.name
            if ($found) { $null = Remove-SCLogicalSwitch -LogicalSwitch $found -RunAsynchronously -JobVariable 'job' }
        }
        'vmm.host_switch' {
            $found = Find-RcObject (Get-SCVMHost | ForEach-Object { Get-SCVirtualNetwork -VMHost $_ }) $Data.id $null
            if ($found) { $null = Remove-SCVirtualNetwork -VirtualNetwork $found -RunAsynchronously -JobVariable 'job' }
        }
        default { Stop-RcUnknown 'kind' }
    }
    Add-RcJob $job
    Write-RcResult $null
}

function Set-RcSwitchDescription {
    $found = Assert-RcFound (Find-RcObject (Get-SCLogicalSwitch) $Data.id $null) 'logical switch' $Data.id
    $null = Set-SCLogicalSwitch -LogicalSwitch $found -Description ([string]$Data.description)
    Write-RcResult $found
}

switch ($Data.operation) {
    'read' { Read-RcSwitches }
    'set_logical_switch' { Set-RcLogicalSwitch }
    'set_host_switch' { Set-RcHostSwitch }
    'describe' { Set-RcSwitchDescription }
    'remove' { Remove-RcSwitchObject }
    default { Stop-RcUnknown 'operation' }
}
