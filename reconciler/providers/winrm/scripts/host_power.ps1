# Runs on a Hyper-V host: its active Windows power plan (powercfg). $Data.operation: read, or set ($Data.scheme:
# the plan's GUID, refused unless it parses as one). Prints the active scheme's GUID and (localized) name.
param($Data)

function Read-RcScheme {
    $text = (& powercfg.exe /getactivescheme) -join ' '
    if ($LASTEXITCODE -ne 0) {
        Write-Error -Message "powercfg /getactivescheme failed ($LASTEXITCODE): $text" -Category InvalidResult -ErrorAction Stop
    }
    $match = [regex]::Match($text, '([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\s*\(([^)]*)\)')
    [pscustomobject]@{ ComputerName = $env:COMPUTERNAME; ActiveScheme = $match.Groups[1].Value; SchemeName = $match.Groups[2].Value }
}

if ($Data.operation -eq 'set') {
    $scheme = [guid]::Parse([string]$Data.scheme)
    $text = (& powercfg.exe /setactive $scheme.ToString()) -join ' '
    if ($LASTEXITCODE -ne 0) {
        Write-Error -Message "powercfg /setactive $scheme failed ($LASTEXITCODE): $text" -Category InvalidResult -ErrorAction Stop
    }
}
elseif ($Data.operation -ne 'read') {
    Write-Error -Message 'unknown operation' -Category InvalidArgument -ErrorAction Stop
}
Read-RcScheme
