# The command line runs only this (powershell -EncodedCommand): it reads one line from stdin, four fields
# separated by dots (base64 of the prelude, of the script body, of the JSON data argument; the run's nonce),
# and runs the prelude with the other three. Script and data never share a command line.
$ProgressPreference = 'SilentlyContinue'
$ErrorActionPreference = 'Stop'
$fields = (@($input) -join '').Trim().Split('.')
$prelude = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($fields[0]))
& ([ScriptBlock]::Create($prelude)) $fields[1] $fields[2] $fields[3]
