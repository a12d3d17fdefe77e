# The prelude every shipped script runs in (see docs/winrm.md). It decodes the data argument, runs the body
# with it, and writes one block between markers that carry the run's nonce:
#   --reconciler-result-NONCE--{"output":[...],"warnings":[...]}--end-reconciler-result-NONCE--
#   --reconciler-error-NONCE--{"cmdlet":...,"category":...,"message":...}--end-reconciler-error-NONCE--
# The JSON is compressed and ASCII-only, so banners, progress, warnings and verbose output on any stream,
# and any console codepage, leave it intact.
param(
    [Parameter(Mandatory = $true)][string]$BodyBase64,
    [Parameter(Mandatory = $true)][AllowEmptyString()][string]$DataBase64,
    [Parameter(Mandatory = $true)][string]$Nonce
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$VerbosePreference = 'SilentlyContinue'
$DebugPreference = 'SilentlyContinue'
$ConfirmPreference = 'None'

function ConvertTo-ReconcilerAscii {
    param([string]$Text)
    # Every character outside printable ASCII becomes a JSON \uXXXX escape (UTF-16 code units).
    $escape = [System.Text.RegularExpressions.MatchEvaluator] { param($m) '\u{0:x4}' -f [int][char]$m.Value }
    [regex]::Replace($Text, '[^\x00-\x7e]', $escape)
}

function Write-ReconcilerBlock {
    param([string]$Kind, $Value)
    $json = ConvertTo-Json -InputObject $Value -Depth 16 -Compress
    $text = "`r`n--reconciler-$Kind-$Nonce--" + (ConvertTo-ReconcilerAscii $json) + "--end-reconciler-$Kind-$Nonce--`r`n"
    [Console]::Out.Write($text)
    [Console]::Out.Flush()
}

function ConvertTo-ReconcilerError {
    param($Record)
    $info = $Record.CategoryInfo
    $command = $null
    $line = 0
    if ($Record.InvocationInfo) {
        $line = $Record.InvocationInfo.ScriptLineNumber
        if ($Record.InvocationInfo.MyCommand) { $command = $Record.InvocationInfo.MyCommand.Name }
    }
    $message = $Record.Exception.Message
    $action = $null
    if ($Record.ErrorDetails) {
        if ($Record.ErrorDetails.Message) { $message = $Record.ErrorDetails.Message }
        $action = $Record.ErrorDetails.RecommendedAction
    }
    $target = $Record.TargetObject
    if ($null -ne $target -and -not ($target -is [string] -or $target.GetType().IsPrimitive)) {
        $target = $info.TargetName
    }
    [ordered]@{
        cmdlet            = $command
        category          = [string]$info.Category
        reason            = [string]$info.Reason
        activity          = [string]$info.Activity
        message           = [string]$message
        target            = $target
        targetType        = [string]$info.TargetType
        errorId           = [string]$Record.FullyQualifiedErrorId
        exception         = $Record.Exception.GetType().FullName
        recommendedAction = $action
        line              = $line
    }
}

$exitCode = 0
try {
    $Data = $null
    $json = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($DataBase64))
    if ($json) { $Data = ConvertFrom-Json -InputObject $json }
    $body = [ScriptBlock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($BodyBase64)))
    $output = New-Object System.Collections.ArrayList
    $warnings = New-Object System.Collections.ArrayList
    & $body $Data 3>&1 | ForEach-Object {
        if ($_ -is [System.Management.Automation.WarningRecord]) { [void]$warnings.Add($_.Message) }
        else { [void]$output.Add($_) }
    }
    Write-ReconcilerBlock -Kind 'result' -Value ([ordered]@{ output = $output.ToArray(); warnings = $warnings.ToArray() })
}
catch {
    Write-ReconcilerBlock -Kind 'error' -Value (ConvertTo-ReconcilerError $_)
    $exitCode = 1
}
exit $exitCode
