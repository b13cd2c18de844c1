-- Codes nothing: what a call into a script costs on its own.
function code(segment, context)
  return nil
end
