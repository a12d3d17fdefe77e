# VM networks and their VM subnets. $Data.operation: read ($Data.names), set_vm_network, remove ($Data.id), describe
# ($Data.id, $Data.description: the Description alone, for an adoption).
# A network-virtualized VM network gets IPv4 customer and provider address pools; each VM subnet is one subnet.
# Writes print Write-RcResult.
param($Data)
# include: _vmm

function Read-RcVmNetworks {
    $networks = @(Get-SCVMNetwork | Where-Object { Test-RcWanted $_.Name } | ForEach-Object {
            $network = $_
            [pscustomobject]@{
                ID             = [string]$network.ID
                Name           = $network.Name
                Description    = $network.Description
                LogicalNetwork = $network.LogicalNetwork.Name
                IsolationType  = [string]$network.IsolationType
                VMSubnets      = @(Get-SCVMSubnet -VMNetwork $network | ForEach-Object {
                        [pscustomobject]@{ Name = $_.Name; Subnets = @($_.SubnetVLans | ForEach-Object { $_.Subnet }) }
                    })
            }
        })
    [pscustomobject]@{ vmNetworks = $networks }
}

function Set-RcVmNetwork {
    $logical = Assert-RcFound (Find-RcObject (Get-SCLogicalNetwork) $null $Data.logicalNetwork) 'logical network' $Data.logicalNetwork
    $network = Find-RcObject (Get-SCVMNetwork) $Data.id $Data.name
    if ($null -eq $network) {
        $params = @{ Name = [string]$Data.name; Description = [string]$Data.description; LogicalNetwork = $logical; IsolationType = [string]$Data.isolation }
        if ([string]$Data.isolation -eq 'WindowsNetworkVirtualization') {
            $params.CAIPAddressPoolType = 'IPV4'
            $params.PAIPAddressPoolType = 'IPV4'
        }
        $network = New-SCVMNetwork @params
    }
    elseif ($null -ne $Data.description) { $network = Set-SCVMNetwork -VMNetwork $network -Description ([string]$Data.description) }
    $subnets = @(Get-SCVMSubnet -VMNetwork $network)
    $wanted = @($Data.subnets | ForEach-Object { [string]$_.name })
    foreach ($item in @($Data.subnets)) {
        $have = Find-RcObject $subnets $null $item.name
        if ($have -and @($have.SubnetVLans | ForEach-Object { $_.Subnet }) -notcontains [string]$item.subnet) {
            $null = Remove-SCVMSubnet -VMSubnet $have
            $have = $null
        }
        if (-not $have) {
            $subnetVLan = New-SCSubnetVLan -Subnet ([string]$item.subnet)
            $null = New-SCVMSubnet -Name ([string]$item.name) -VMNetwork $network -SubnetVLan $subnetVLan -RunAsynchronously -JobVariable 'job'
            Add-RcJob $job
        }
    }
    foreach ($have in $subnets) {
        if ($wanted -notcontains $have.Name) { $null = Remove-SCVMSubnet -VMSubnet $have }
    }
    Write-RcResult $network
}

function Remove-RcVmNetwork {
    $network = Find-RcObject (Get-SCVMNetwork) $Data.id $Data.name
    if ($network) {
        foreach ($subnet in @(Get-SCVMSubnet -VMNetwork $network)) { $null = Remove-SCVMSubnet -VMSubnet $subnet }
        $null = Remove-SCVMNetwork -VMNetwork $network -RunAsynchronously -JobVariable 'job'
        Add-RcJob $job
    }
    Write-RcResult $null
}

function Set-RcVmNetworkDescription {
    $network = Assert-RcFound (Find-RcObject (Get-SCVMNetwork) $Data.id $null) 'VM network' $Data.id
    $null = Set-SCVMNetwork -VMNetwork $network -Description ([string]$Data.description)
    Write-RcResult $network
}

switch ($Data.operation) {
    'read' { Read-RcVmNetworks }
    'set_vm_network' { Set-RcVmNetwork }
    'describe' { Set-RcVmNetworkDescription }
    'remove' { Remove-RcVmNetwork }
    default { Stop-RcUnknown 'operation' }
}
