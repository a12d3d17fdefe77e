# Shared by the VMM scripts (an include line after their param line names it): the VMM module, the connection to
# the VMM server this runs on, and the helpers every VMM script uses. Every value comes from $Data.
Import-Module virtualmachinemanager -ErrorAction Stop | Out-Null
$null = Get-SCVMMServer -ComputerName localhost
$jobs = New-Object System.Collections.ArrayList

function Test-RcWanted($Name) {
    # A read of every object ($Data.names empty), or of the named ones only.
    (-not $Data.names) -or (@($Data.names) -contains [string]$Name)
}

function Find-RcObject($Items, $Id, $Name) {
    # The object with this VMM ID when one is given, else the first of this name (VMM compares names without case).
    foreach ($item in @($Items)) {
        if ($Id) {
            if ([string]$item.ID -eq [string]$Id) { return $item }
        }
        elseif ($item.Name -eq $Name) { return $item }
    }
    return $null
}

function Assert-RcFound($Object, [string]$What, [string]$Name) {
    if ($null -eq $Object) {
        Write-Error -Message "$What '$Name' does not exist" -Category ObjectNotFound -TargetObject $Name -ErrorAction Stop
    }
    $Object
}

function Find-RcNamed($Items, $Names, [string]$What) {
    # Every object of $Names, in that order; a missing one stops the script (ObjectNotFound).
    foreach ($name in @($Names)) { Assert-RcFound (Find-RcObject $Items $null $name) $What $name }
}

function Add-RcJob($Job) {
    if ($Job) { [void]$jobs.Add([string]$Job.ID) }
}

function Write-RcResult($Object) {
    # What every write prints: the object's VMM ID (when it has one) and the VMM jobs to wait for.
    $id = $null
    if ($Object) { $id = [string]$Object.ID }
    [pscustomobject]@{ id = $id; jobs = @($jobs) }
}

function Stop-RcUnknown([string]$What) {
    Write-Error -Message "unknown $What" -Category InvalidArgument -ErrorAction Stop
}
