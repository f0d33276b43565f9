-- Tells the LA scar worker about every series that has become stable in Orthanc
-- (no new instance for "StableAge" seconds). The worker queues the series; it de-duplicates, so
-- a repeated post is harmless, and it also follows Orthanc's change feed because Orthanc never
-- retries a post that failed.
--
-- Configuration (first found wins):
--   Orthanc configuration:  "LAScar": { "WebhookUrl": "http://127.0.0.1:8300/webhook/orthanc",
--                                        "WebhookSecret": "..." }
--   environment:            LASCAR_WEBHOOK_URL, LASCAR_WEBHOOK_SECRET
-- The secret travels in the "X-Lascar-Webhook-Secret" header.

local function setting(configKey, envName)
  local config = GetOrthancConfiguration()
  local section = config and config['LAScar']
  if section ~= nil and section[configKey] ~= nil and section[configKey] ~= '' then
    return section[configKey]
  end
  local fromEnv = os.getenv(envName)
  if fromEnv ~= nil and fromEnv ~= '' then
    return fromEnv
  end
  return nil
end

-- Objects the worker never processes; SEG covers the worker's own output.
local SKIPPED_MODALITIES = { SEG = true, SR = true, PR = true, KO = true, RTSTRUCT = true }

function OnStableSeries(seriesId, tags, metadata)
  local modality = tags['Modality'] or ''
  if SKIPPED_MODALITIES[string.upper(modality)] then
    return
  end

  local url = setting('WebhookUrl', 'LASCAR_WEBHOOK_URL')
  if url == nil then
    print('lascar: no webhook URL configured (LAScar.WebhookUrl or LASCAR_WEBHOOK_URL); series ' .. seriesId .. ' not posted')
    return
  end
  local secret = setting('WebhookSecret', 'LASCAR_WEBHOOK_SECRET') or ''

  local study = ParseJson(RestApiGet('/series/' .. seriesId .. '/study'))
  local instances = ParseJson(RestApiGet('/series/' .. seriesId .. '/instances'))
  local studyTags = (study and study['MainDicomTags']) or {}

  local body = {
    seriesId = seriesId,
    studyId = study and study['ID'] or nil,
    studyInstanceUid = studyTags['StudyInstanceUID'],
    seriesInstanceUid = tags['SeriesInstanceUID'],
    modality = modality,
    seriesDescription = tags['SeriesDescription'],
    protocolName = tags['ProtocolName'],
    seriesNumber = tags['SeriesNumber'],
    manufacturer = tags['Manufacturer'],
    numberOfInstances = instances and #instances or nil,
  }

  local headers = {
    ['Content-Type'] = 'application/json',
    ['X-Lascar-Webhook-Secret'] = secret,
  }
  -- HttpPost answers nil when the receiver is down; the change feed picks the series up later.
  local answer = HttpPost(url, DumpJson(body, true), headers)
  if answer == nil then
    print('lascar: webhook post failed for series ' .. seriesId .. '; the change feed will find it')
  end
end
