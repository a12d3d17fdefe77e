# What the endpoint is: its name, PowerShell and Windows versions, and whether the VMM and Hyper-V
# PowerShell modules are installed. Takes no data. One object.
param($Data)
$os = Get-CimInstance -ClassName Win32_OperatingSystem
[pscustomobject]@{
    computerName      = $env:COMPUTERNAME
    powershellVersion = $PSVersionTable.PSVersion.ToString()
    osCaption         = $os.Caption
    osVersion         = $os.Version
    vmmModule         = [bool](Get-Module -ListAvailable -Name virtualmachinemanager)
    hypervModule      = [bool](Get-Module -ListAvailable -Name Hyper-V)
}
