# Logical networks, their network sites (logical network definitions) and the sites' static IP pools: the first
# links of the NVGRE chain. $Data.operation: read ($Data.kinds, $Data.names), set_logical_network,
# set_network_site, set_ip_pool, remove ($Data.kind, $Data.id), describe ($Data.kind, $Data.id, $Data.description:
# the Description alone, for an adoption). Writes print Write-RcResult.
param($Data)
# include: _vmm

function Read-RcNetworks {
    $kinds = @($Data.kinds)
    $out = [ordered]@{}
    if ($kinds -contains 'vmm.logical_network') {
        $out.logicalNetworks = @(Get-SCLogicalNetwork | Where-Object { Test-RcWanted $_.Name } | ForEach-Object {
                [pscustomobject]@{
                    ID                           = [string]$_.ID
                    Name                         = $_.Name
                    Description                  = $_.Description
                    NetworkVirtualizationEnabled = [bool]$_.NetworkVirtualizationEnabled
                }
            })
    }
    if ($kinds -contains 'vmm.network_site') {
        $out.networkSites = @(Get-SCLogicalNetworkDefinition | Where-Object { Test-RcWanted $_.Name } | ForEach-Object {
                [pscustomobject]@{
                    ID             = [string]$_.ID
                    Name           = $_.Name
                    LogicalNetwork = $_.LogicalNetwork.Name
                    HostGroups     = @($_.HostGroups | ForEach-Object { $_.Path })
                    SubnetVLans    = @($_.SubnetVLans | ForEach-Object { [pscustomobject]@{ Subnet = $_.Subnet; VLanID = $_.VLanID } })
                }
            })
    }
    if ($kinds -contains 'vmm.ip_pool') {
        $out.ipPools = @(Get-SCStaticIPAddressPool | Where-Object { Test-RcWanted $_.Name } | ForEach-Object {
                [pscustomobject]@{
                    ID                       = [string]$_.ID
                    Name                     = $_.Name
                    Description              = $_.Description
                    LogicalNetworkDefinition = $_.LogicalNetworkDefinition.Name
                    Subnet                   = $_.Subnet
                    IPAddressRangeStart      = $_.IPAddressRangeStart
                    IPAddressRangeEnd        = $_.IPAddressRangeEnd
                    DefaultGateways          = @($_.DefaultGateways | ForEach-Object { [string]$_.IPAddress })
                    DNSServers               = @($_.DNSServers)
                }
            })
    }
    [pscustomobject]$out
}

function Set-RcLogicalNetwork {
    $network = Find-RcObject (Get-SCLogicalNetwork) $Data.id $Data.name
    $params = @{ EnableNetworkVirtualization = [bool]$Data.networkVirtualization; RunAsynchronously = $true; JobVariable = 'job' }
    if ($null -ne $Data.description) { $params.Description = [string]$Data.description }
    if ($null -eq $network) { $network = New-SCLogicalNetwork -Name ([string]$Data.name) @params }
    else { $network = Set-SCLogicalNetwork -LogicalNetwork $network @params }
    Add-RcJob $job
    Write-RcResult $network
}

function Set-RcNetworkSite {
    $network = Assert-RcFound (Find-RcObject (Get-SCLogicalNetwork) $null $Data.logicalNetwork) 'logical network' $Data.logicalNetwork
    $groups = @(Find-RcNamed (Get-SCVMHostGroup | ForEach-Object { [pscustomobject]@{ Name = $_.Path; Group = $_ } }) $Data.hostGroups 'host group' | ForEach-Object { $_.Group })
    $subnets = @(foreach ($item in @($Data.subnets)) { New-SCSubnetVLan -Subnet ([string]$item.subnet) -VLanID ([int]$item.vlan) })
    $site = Find-RcObject (Get-SCLogicalNetworkDefinition) $Data.id $Data.name
    if ($null -eq $site) {
        $site = New-SCLogicalNetworkDefinition -Name ([string]$Data.name) -LogicalNetwork $network -SubnetVLan $subnets -VMHostGroup $groups -RunAsynchronously -JobVariable 'job'
    }
    else {
        $current = @($site.HostGroups | ForEach-Object { $_.Path })
        $params = @{ LogicalNetworkDefinition = $site; SubnetVLan = $subnets; RunAsynchronously = $true; JobVariable = 'job' }
        $add = @($groups | Where-Object { $current -notcontains $_.Path })
        $remove = @($site.HostGroups | Where-Object { @($Data.hostGroups) -notcontains $_.Path })
        if ($add.Count -gt 0) { $params.AddVMHostGroup = $add }
        if ($remove.Count -gt 0) { $params.RemoveVMHostGroup = $remove }
        $site = Set-SCLogicalNetworkDefinition @params
    }
    Add-RcJob $job
    Write-RcResult $site
}

function Set-RcIpPool {
    $site = Assert-RcFound (Find-RcObject (Get-SCLogicalNetworkDefinition) $null $Data.networkSite) 'network site' $Data.networkSite
    $pool = Find-RcObject (Get-SCStaticIPAddressPool) $Data.id $Data.name
    $params = @{ IPAddressRangeStart = [string]$Data.rangeStart; IPAddressRangeEnd = [string]$Data.rangeEnd; RunAsynchronously = $true; JobVariable = 'job' }
    if (@($Data.dnsServers).Count -gt 0) { $params.DNSServer = [string[]]@($Data.dnsServers) }
    if ($Data.gateway) { $params.DefaultGateway = @(New-SCDefaultGateway -IPAddress ([string]$Data.gateway) -Automatic) }
    if ($null -ne $Data.description) { $params.Description = [string]$Data.description }
    if ($null -eq $pool) {
        $pool = New-SCStaticIPAddressPool -Name ([string]$Data.name) -LogicalNetworkDefinition $site -Subnet ([string]$Data.subnet) @params
    }
    else { $pool = Set-SCStaticIPAddressPool -StaticIPAddressPool $pool @params }
    Add-RcJob $job
    Write-RcResult $pool
}

function Remove-RcNetworkObject {
    switch ($Data.kind) {
        'vmm.logical_network' {
            $found = Find-RcObject (Get-SCLogicalNetwork) $Data.id $Data.name
            if ($found) { $null = Remove-SCLogicalNetwork -LogicalNetwork $found -RunAsynchronously -JobVariable 'job' }
        }
        'vmm.network_site' {
            $found = Find-RcObject (Get-SCLogicalNetworkDefinition) $Data.id $Data.name
            if ($found) { $null = Remove-SCLogicalNetworkDefinition -LogicalNetworkDefinition $found -RunAsynchronously -JobVariable 'job' }
        }
        'vmm.ip_pool' {
            $found = Find-RcObject (Get-SCStaticIPAddressPool) $Data.id $Data.name
            if ($found) { $null = Remove-SCStaticIPAddressPool -StaticIPAddressPool $found -RunAsynchronously -JobVariable 'job' }
        }
        default { Stop-RcUnknown 'kind' }
    }
    Add-RcJob $job
    Write-RcResult $null
}

function Set-RcNetworkDescription {
    $description = [string]$Data.description
    switch ($Data.kind) {
        'vmm.logical_network' {
            $found = Assert-RcFound (Find-RcObject (Get-SCLogicalNetwork) $Data.id $null) 'logical network' $Data.id
            $null = Set-SCLogicalNetwork -LogicalNetwork $found -Description $description
        }
        'vmm.ip_pool' {
            $found = Assert-RcFound (Find-RcObject (Get-SCStaticIPAddressPool) $Data.id $null) 'IP pool' $Data.id
            $null = Set-SCStaticIPAddressPool -StaticIPAddressPool $found -Description $description
        }
        default { Stop-RcUnknown 'kind' }
    }
    Write-RcResult $found
}

switch ($Data.operation) {
    'read' { Read-RcNetworks }
    'set_logical_network' { Set-RcLogicalNetwork }
    'set_network_site' { Set-RcNetworkSite }
    'set_ip_pool' { Set-RcIpPool }
    'describe' { Set-RcNetworkDescription }
    'remove' { Remove-RcNetworkObject }
    default { Stop-RcUnknown 'operation' }
}
