import { EventCodec } from '../shared/event-codec.js';
import {
  CandidateCreatedSchema,
  CandidateMetadataSchema,
  EventMetadataSchema,
  IncidentCreatedMetadataSchema,
  IncidentCreatedSchema,
  ManualPromotionRequestedSchema,
  PromotionDecidedSchema,
  type CandidateStreamEvent,
} from './candidate-events.js';

export const candidateCodec = new EventCodec<CandidateStreamEvent>('candidate stream', {
  CandidateCreated: [CandidateCreatedSchema, CandidateMetadataSchema],
  ManualPromotionRequested: [ManualPromotionRequestedSchema, EventMetadataSchema],
  PromotionDecided: [PromotionDecidedSchema, EventMetadataSchema],
  IncidentCreated: [IncidentCreatedSchema, IncidentCreatedMetadataSchema],
});
