-- Library, put before drop-payload and drop-unsynced: with the payload go the upstream's words
-- kept in each state (stored-payload.ts seals them into the property SEALED_WORDS, base64: no
-- quote or comma inside), which may quote the person: the state stays for the status API, its
-- words do not. Done on the JSON text, as decoding and encoding it in Lua would turn the empty
-- lists of the state into objects.
local function dropWords(recKey)
  local words = '"' .. SEALED_WORDS .. '":"[^"]*"'
  for _, k in ipairs(redis.call('HKEYS', recKey)) do
    if string.sub(k, 1, #UF) == UF then
      local v = redis.call('HGET', recKey, k)
      local stripped = string.gsub(string.gsub(v, ',' .. words, ''), words .. ',?', '')
      if stripped ~= v then redis.call('HSET', recKey, k, stripped) end
    end
  end
end
