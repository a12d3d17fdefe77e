# Clouds: their host groups and logical networks (both cloud resources: Set-SCCloud -AddCloudResource and
# -RemoveCloudResource) and their capacity (Set-SCCloudCapacity: a limit for each amount $Data.capacity names).
# $Data.operation: read ($Data.names), set_cloud, remove ($Data.id), describe ($Data.id, $Data.description: the
# Description alone, for an adoption). Writes print Write-RcResult.
param($Data)
# include: _vmm

function Read-RcClouds {
    $clouds = @(Get-SCCloud | Where-Object { Test-RcWanted $_.Name } | ForEach-Object {
            $cloud = $_
            $capacity = Get-SCCloudCapacity -Cloud $cloud
            [pscustomobject]@{
                ID              = [string]$cloud.ID
                Name            = $cloud.Name
                Description     = $cloud.Description
                HostGroups      = @($cloud.HostGroup | ForEach-Object { $_.Path })
                LogicalNetworks = @(Get-SCLogicalNetwork -Cloud $cloud | ForEach-Object { $_.Name })
                Capacity        = [pscustomobject]@{
                    UseVMCountMaximum   = [bool]$capacity.UseVMCountMaximum
                    VMCount             = $capacity.VMCount
                    UseCPUCountMaximum  = [bool]$capacity.UseCPUCountMaximum
                    CPUCount            = $capacity.CPUCount
                    UseMemoryMBMaximum  = [bool]$capacity.UseMemoryMBMaximum
                    MemoryMB            = $capacity.MemoryMB
                    UseStorageGBMaximum = [bool]$capacity.UseStorageGBMaximum
                    StorageGB           = $capacity.StorageGB
                }
            }
        })
    [pscustomobject]@{ clouds = $clouds }
}

function Set-RcCapacity($Cloud) {
    $limits = $Data.capacity
    if ($null -eq $limits) { return }
    $params = @{ CloudCapacity = (Get-SCCloudCapacity -Cloud $Cloud) }
    if ($null -ne $limits.VMCount) { $params.UseVMCountMaximum = $false; $params.VMCount = [int]$limits.VMCount }
    if ($null -ne $limits.CPUCount) { $params.UseCPUCountMaximum = $false; $params.CPUCount = [int]$limits.CPUCount }
    if ($null -ne $limits.MemoryMB) { $params.UseMemoryMBMaximum = $false; $params.MemoryMB = [int]$limits.MemoryMB }
    if ($null -ne $limits.StorageGB) { $params.UseStorageGBMaximum = $false; $params.StorageGB = [int]$limits.StorageGB }
    if ($params.Count -gt 1) { $null = Set-SCCloudCapacity @params }
}

function Set-RcCloud {
    $groups = @(Find-RcNamed (Get-SCVMHostGroup | ForEach-Object { [pscustomobject]@{ Name = $_.Path; Group = $_ } }) $Data.hostGroups 'host group' | ForEach-Object { $_.Group })
    $networks = @(Find-RcNamed (Get-SCLogicalNetwork) $Data.logicalNetworks 'logical network')
    $cloud = Find-RcObject (Get-SCCloud) $Data.id $Data.name
    if ($null -eq $cloud) { $cloud = New-SCCloud -Name ([string]$Data.name) -VMHostGroup $groups -Description ([string]$Data.description) }
    $haveGroups = @($cloud.HostGroup | ForEach-Object { $_.Path })
    $haveNetworks = @(Get-SCLogicalNetwork -Cloud $cloud)
    $haveIds = @($haveNetworks | ForEach-Object { [string]$_.ID })
    $add = @($groups | Where-Object { $haveGroups -notcontains $_.Path }) + @($networks | Where-Object { $haveIds -notcontains [string]$_.ID })
    $remove = @($cloud.HostGroup | Where-Object { @($Data.hostGroups) -notcontains $_.Path }) + @($haveNetworks | Where-Object { @($Data.logicalNetworks) -notcontains $_.Name })
    $params = @{ Cloud = $cloud; RunAsynchronously = $true; JobVariable = 'job' }
    if ($add.Count -gt 0) { $params.AddCloudResource = $add }
    if ($remove.Count -gt 0) { $params.RemoveCloudResource = $remove }
    if ($null -ne $Data.description) { $params.Description = [string]$Data.description }
    $cloud = Set-SCCloud @params
    Add-RcJob $job
    Set-RcCapacity $cloud
    Write-RcResult $cloud
}

function Remove-RcCloud {
    $cloud = Find-RcObject (Get-SCCloud) $Data.id $Data.name
    if ($cloud) {
        $null = Remove-SCCloud -Cloud $cloud -RunAsynchronously -JobVariable 'job'
        Add-RcJob $job
    }
    Write-RcResult $null
}

function Set-RcCloudDescription {
    $cloud = Assert-RcFound (Find-RcObject (Get-SCCloud) $Data.id $null) 'cloud' $Data.id
    $null = Set-SCCloud -Cloud $cloud -Description ([string]$Data.description)
    Write-RcResult $cloud
}

switch ($Data.operation) {
    'read' { Read-RcClouds }
    'set_cloud' { Set-RcCloud }
    'describe' { Set-RcCloudDescription }
    'remove' { Remove-RcCloud }
    default { Stop-RcUnknown 'operation' }
}
