# Uplink port profiles, and port classifications with the virtual port profile of the same name that holds their
# guards. $Data.operation: read ($Data.kinds, $Data.names), set_uplink_port_profile, set_port_classification,
# remove ($Data.kind, $Data.id), describe ($Data.kind, $Data.id, $Data.description: the Description alone, for an
# adoption). Writes print Write-RcResult.
param($Data)
# include: _vmm

function Read-RcPorts {
    $kinds = @($Data.kinds)
    $out = [ordered]@{}
    if ($kinds -contains 'vmm.uplink_port_profile') {
        $out.uplinkPortProfiles = @(Get-SCNativeUplinkPortProfile | Where-Object { Test-RcWanted $_.Name } | ForEach-Object {
                [pscustomobject]@{
                    ID                          = [string]$_.ID
                    Name                        = $_.Name
                    Description                 = $_.Description
                    LogicalNetworkDefinitions   = @($_.LogicalNetworkDefinitions | ForEach-Object { $_.Name })
                    EnableNetworkVirtualization = [bool]$_.EnableNetworkVirtualization
                    LBFOTeamMode                = [string]$_.LBFOTeamMode
                    LBFOLoadBalancingAlgorithm  = [string]$_.LBFOLoadBalancingAlgorithm
                }
            })
    }
    if ($kinds -contains 'vmm.port_classification') {
        $portProfiles = @(Get-SCVirtualNetworkAdapterNativePortProfile)
        $out.portClassifications = @(Get-SCPortClassification | Where-Object { Test-RcWanted $_.Name } | ForEach-Object {
                $portProfile = Find-RcObject $portProfiles $null $_.Name
                $guards = $null
                if ($portProfile) {
                    $guards = [pscustomobject]@{
                        Name                    = $portProfile.Name
                        Description             = $portProfile.Description
                        EnableDhcpGuard         = [bool]$portProfile.EnableDhcpGuard
                        EnableRouterGuard       = [bool]$portProfile.EnableRouterGuard
                        AllowMacAddressSpoofing = [bool]$portProfile.AllowMacAddressSpoofing
                    }
                }
                [pscustomobject]@{ ID = [string]$_.ID; Name = $_.Name; Description = $_.Description; PortProfile = $guards }
            })
    }
    [pscustomobject]$out
}

function Set-RcUplinkPortProfile {
    $sites = @(Find-RcNamed (Get-SCLogicalNetworkDefinition) $Data.networkSites 'network site')
    $uplink = Find-RcObject (Get-SCNativeUplinkPortProfile) $Data.id $Data.name
    $params = @{
        EnableNetworkVirtualization = [bool]$Data.networkVirtualization
        LBFOTeamMode                = [string]$Data.teamingMode
        LBFOLoadBalancingAlgorithm  = [string]$Data.loadBalancing
        RunAsynchronously           = $true
        JobVariable                 = 'job'
    }
    if ($null -ne $Data.description) { $params.Description = [string]$Data.description }
    if ($null -eq $uplink) {
        $uplink = New-SCNativeUplinkPortProfile -Name ([string]$Data.name) -LogicalNetworkDefinition $sites @params
    }
    else {
        $current = @($uplink.LogicalNetworkDefinitions | ForEach-Object { [string]$_.ID })
        $add = @($sites | Where-Object { $current -notcontains [string]$_.ID })
        $remove = @($uplink.LogicalNetworkDefinitions | Where-Object { @($Data.networkSites) -notcontains $_.Name })
        if ($add.Count -gt 0) { $params.AddLogicalNetworkDefinition = $add }
        if ($remove.Count -gt 0) { $params.RemoveLogicalNetworkDefinition = $remove }
        $uplink = Set-SCNativeUplinkPortProfile -NativeUplinkPortProfile $uplink @params
    }
    Add-RcJob $job
    Write-RcResult $uplink
}

function Set-RcPortClassification {
    $classification = Find-RcObject (Get-SCPortClassification) $Data.id $Data.name
    if ($null -eq $classification) {
        $classification = New-SCPortClassification -Name ([string]$Data.name) -Description ([string]$Data.description)
    }
    else { $classification = Set-SCPortClassification -PortClassification $classification -Description ([string]$Data.description) }
    $params = @{
        EnableDhcpGuard         = [bool]$Data.dhcpGuard
        EnableRouterGuard       = [bool]$Data.routerGuard
        AllowMacAddressSpoofing = [bool]$Data.macSpoofing
        RunAsynchronously       = $true
        JobVariable             = 'job'
    }
    if ($null -ne $Data.profileDescription) { $params.Description = [string]$Data.profileDescription }
    $portProfile = Find-RcObject (Get-SCVirtualNetworkAdapterNativePortProfile) $null $classification.Name
    if ($null -eq $portProfile) { $null = New-SCVirtualNetworkAdapterNativePortProfile -Name $classification.Name @params }
    else { $null = Set-SCVirtualNetworkAdapterNativePortProfile -VirtualNetworkAdapterNativePortProfile $portProfile @params }
    Add-RcJob $job
    Write-RcResult $classification
}

function Remove-RcPortObject {
    switch ($Data.kind) {
        'vmm.uplink_port_profile' {
            $found = Find-RcObject (Get-SCNativeUplinkPortProfile) $Data.id $Data.name
            if ($found) { $null = Remove-SCNativeUplinkPortProfile -NativeUplinkPortProfile $found -RunAsynchronously -JobVariable 'job' }
        }
        'vmm.port_classification' {
            $found = Find-RcObject (Get-SCPortClassification) $Data.id $Data.name
            if ($found) {
                $portProfile = Find-RcObject (Get-SCVirtualNetworkAdapterNativePortProfile) $null $found.Name
                if ($portProfile) { $null = Remove-SCVirtualNetworkAdapterNativePortProfile -VirtualNetworkAdapterNativePortProfile $portProfile }
                $null = Remove-SCPortClassification -PortClassification $found -RunAsynchronously -JobVariable 'job'
            }
        }
        default { Stop-RcUnknown 'kind' }
    }
    Add-RcJob $job
    Write-RcResult $null
}

function Set-RcPortDescription {
    $description = [string]$Data.description
    switch ($Data.kind) {
        'vmm.uplink_port_profile' {
            $found = Assert-RcFound (Find-RcObject (Get-SCNativeUplinkPortProfile) $Data.id $null) 'uplink port profile' $Data.id
            $null = Set-SCNativeUplinkPortProfile -NativeUplinkPortProfile $found -Description $description
        }
        'vmm.port_classification' {
            $found = Assert-RcFound (Find-RcObject (Get-SCPortClassification) $Data.id $null) 'port classification' $Data.id
            $null = Set-SCPortClassification -PortClassification $found -Description $description
        }
        default { Stop-RcUnknown 'kind' }
    }
    Write-RcResult $found
}

switch ($Data.operation) {
    'read' { Read-RcPorts }
    'set_uplink_port_profile' { Set-RcUplinkPortProfile }
    'set_port_classification' { Set-RcPortClassification }
    'describe' { Set-RcPortDescription }
    'remove' { Remove-RcPortObject }
    default { Stop-RcUnknown 'operation' }
}
